"""A profile counted from a pyarrow Table (Arrow's own counting, monitoring's path) equals the one counted
from the same rows as a pandas DataFrame, nulls, booleans and integers as categories included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from shipyard.stats import Profile, ProfileLayout
from shipyard.stats._columns import CategoryCounts, CategoryGroup, Family
from shipyard.stats.layout import CategoricalLayout, NumericLayout
from shipyard.stats.sketches import CategoricalSketch


def test_arrow_and_pandas_count_the_same_rows_alike() -> None:
    rng = np.random.default_rng(5)
    rows = 500
    table = pa.table(
        {
            "amount": pa.array([*rng.normal(50, 10, rows - 3).tolist(), None, float("inf"), -1e9]),
            "count": pa.array([int(v) if v % 7 else None for v in rng.integers(0, 40, rows)], pa.int64()),
            "channel": pa.array([["web", "app", "pos", None, "new"][v] for v in rng.integers(0, 5, rows)]),
            "code": pa.array([int(v) if v % 5 else None for v in rng.integers(0, 6, rows)], pa.int32()),
            "flag": pa.array([[True, False, None][v] for v in rng.integers(0, 3, rows)], pa.bool_()),
        }
    )
    layout = ProfileLayout(
        {
            "amount": NumericLayout((30.0, 40.0, 50.0, 60.0, 70.0)),
            "count": NumericLayout((10.0, 20.0, 30.0)),
            "channel": CategoricalLayout(("web", "app", "pos")),
            "code": CategoricalLayout((1, 2, 3)),
            "flag": CategoricalLayout((True,)),
        }
    )
    from_arrow = Profile.build(table, layout)
    from_pandas = Profile.build(table.to_pandas(), layout)
    assert from_arrow.to_dict() == from_pandas.to_dict()
    assert from_arrow.columns["channel"].other_count > 0 and from_arrow.columns["code"].null_count > 0


def test_integers_beyond_a_floats_exact_range_are_counted_as_pandas_counts_them() -> None:
    """An id-like integer feature (beyond 2**53) is counted rounded to a float, not refused by a cast."""
    table = pa.table({"account": pa.array([2**62 + 1, 2**53 + 1, None, 7, -(2**63)], pa.int64())})
    layout = ProfileLayout({"account": NumericLayout((0.0, 2.0**53, 2.0**60))})
    from_arrow = Profile.build(table, layout)
    assert from_arrow.to_dict() == Profile.build(table.to_pandas(), layout).to_dict()
    assert from_arrow.columns["account"].count == 4 and from_arrow.columns["account"].null_count == 1


def test_numbers_in_a_text_vocabulary_count_as_other() -> None:
    layout = ProfileLayout({"channel": CategoricalLayout(("1", "2"))})
    counted = Profile.build(pa.table({"channel": pa.array([1, 2, 2], pa.int64())}), layout)
    assert counted.columns["channel"].other_count == 3
    assert counted.to_dict() == Profile.build(pd.DataFrame({"channel": [1, 2, 2]}), layout).to_dict()


@pytest.mark.parametrize(
    ("vocabulary", "values"),
    [
        (tuple(f"v{n}" for n in range(100)), [f"v{n}" for n in range(0, 200, 2)] + ["other"]),
        (tuple(range(80)), [float(n) for n in range(0, 150, 2)] + [2.5]),
    ],
)
def test_a_few_values_are_placed_as_many_are(vocabulary: tuple[object, ...], values: list[object]) -> None:
    """Up to 64 distinct values are placed by dict lookups, more by a pandas indexer: both agree, for text
    and for numbers, where an integer vocabulary matches the same numbers read as floats."""
    layout = CategoricalLayout(vocabulary)
    family: Family = "str" if isinstance(values[0], str) else "number"
    array = np.asarray(values, dtype=object if family == "str" else np.float64)
    counts = np.arange(1, len(values) + 1, dtype=np.int64)
    whole = CategoryCounts((CategoryGroup(family, array, counts),), null_count=2)
    halves = CategoryCounts(
        tuple(CategoryGroup(family, array[part], counts[part]) for part in (slice(0, 30), slice(30, None))),
        null_count=2,
    )
    assert len(values) > 64 >= 30
    assert CategoricalSketch.from_counts(whole, layout) == CategoricalSketch.from_counts(halves, layout)
    sketch = CategoricalSketch.from_counts(halves, layout)
    known = set(vocabulary)
    assert sketch.other_count == sum(int(n) for v, n in zip(values, counts, strict=True) if v not in known)
    assert sketch.count == int(counts.sum()) and sketch.null_count == 2
