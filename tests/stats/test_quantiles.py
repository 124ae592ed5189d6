"""Percentiles of a stream: exact while it is short, within 1% once it is long, in memory that does not
grow with the count."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from shipyard.stats.quantiles import RELATIVE_ACCURACY, StreamPercentiles

QUANTILES = (0, 1, 50, 95, 99, 99.9, 100)


def test_a_short_stream_gives_numpys_exact_percentiles() -> None:
    values = np.random.default_rng(0).lognormal(1.0, 0.8, 5_000)
    stream = StreamPercentiles()
    for part in np.array_split(values, 7):
        stream.add(part)
    assert stream.count == 5_000
    assert [stream.percentile(q) for q in QUANTILES] == [float(np.percentile(values, q)) for q in QUANTILES]


@pytest.mark.parametrize("size", [1, 2, 3, 10, 137, 1_380])
def test_exact_percentiles_are_numpys_to_the_last_bit_at_any_size(size: int) -> None:
    rng = np.random.default_rng(size)
    quantiles = [*QUANTILES, 5, 25, 33.3, 66.7, 75, 90]
    for scale in (1e-3, 1.0, 1e6):
        values = rng.lognormal(1.0, 2.0, size) * scale
        stream = StreamPercentiles()
        stream.add(values)
        assert stream.percentiles(quantiles) == [float(np.percentile(values, q)) for q in quantiles]


@pytest.mark.parametrize("sigma", [0.3, 2.0])
def test_a_long_stream_is_within_the_relative_accuracy(sigma: float) -> None:
    values = np.random.default_rng(1).lognormal(0.5, sigma, 300_000)
    stream = StreamPercentiles(exact_limit=1_000)
    for part in np.array_split(values, 30):
        stream.add(part)
    for q in QUANTILES[1:-1]:
        exact = float(np.percentile(values, q))
        got = stream.percentile(q)
        assert got is not None and abs(got - exact) <= RELATIVE_ACCURACY * exact * 1.01, (q, got, exact)


def test_zeros_negatives_and_non_finite_values() -> None:
    stream = StreamPercentiles(exact_limit=10)
    stream.add(np.array([np.nan, np.inf, -np.inf]))
    assert stream.count == 0 and stream.percentile(50) is None
    stream.add(np.array([0.0] * 60 + [-1.0] * 10 + [5.0] * 30))
    assert stream.count == 100
    assert stream.percentile(50) == 0.0
    high = stream.percentile(99)
    assert high is not None and abs(high - 5.0) <= 5.0 * RELATIVE_ACCURACY


def test_memory_stays_flat_however_long_the_stream() -> None:
    stream = StreamPercentiles(exact_limit=10_000)
    chunk = np.random.default_rng(2).exponential(3.0, 10_000)
    stream.add(chunk)
    stream.add(chunk)  # now a histogram
    tracemalloc.start()
    try:
        for _ in range(300):  # 3,000,000 more values
            stream.add(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stream.count == 3_020_000
    assert peak < 2 * 1024 * 1024, f"{peak / 2**20:.1f} MiB held while adding 3,000,000 values"
