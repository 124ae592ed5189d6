"""Paired bootstrap: is the difference between two models on the same rows more than noise?

Both models are scored on the same resampled rows in every replicate, so row difficulty cancels out and the
confidence interval is about the difference itself. Gates call a regression only when the whole interval
lies beyond the tolerance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: A metric over (row positions) -> value; the caller closes over labels and predictions.
RowMetric = Callable[[np.ndarray], float | None]


@dataclass(frozen=True)
class Difference:
    """``candidate - baseline`` on all rows, with a bootstrap confidence interval."""

    observed: float
    low: float
    high: float
    confidence: float
    samples: int


def paired_bootstrap(
    candidate: RowMetric,
    baseline: RowMetric,
    rows: int,
    *,
    samples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Difference | None:
    """Percentile interval of ``candidate(idx) - baseline(idx)`` over ``samples`` resamples of ``rows``.

    Replicates where a metric is undefined (e.g. one class drawn) are dropped; None when the metric is
    undefined on all rows or on too many replicates to say anything.
    """
    everything = np.arange(rows)
    first, second = candidate(everything), baseline(everything)
    if first is None or second is None:
        return None
    generator = np.random.default_rng(seed)
    differences = []
    for _ in range(samples):
        drawn = generator.integers(0, rows, size=rows)
        a, b = candidate(drawn), baseline(drawn)
        if a is not None and b is not None:
            differences.append(a - b)
    if len(differences) < samples // 2:
        return None
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(differences, [tail, 100 - tail])
    return Difference(float(first - second), float(low), float(high), confidence, len(differences))
