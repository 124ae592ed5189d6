"""A profile counted from a pyarrow Table (Arrow's own counting, monitoring's path) equals the one counted
from the same rows as a pandas DataFrame, nulls, booleans and integers as categories included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from shipyard.stats import Profile, ProfileLayout
from shipyard.stats.layout import CategoricalLayout, NumericLayout


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


def test_numbers_in_a_text_vocabulary_count_as_other() -> None:
    layout = ProfileLayout({"channel": CategoricalLayout(("1", "2"))})
    counted = Profile.build(pa.table({"channel": pa.array([1, 2, 2], pa.int64())}), layout)
    assert counted.columns["channel"].other_count == 3
    assert counted.to_dict() == Profile.build(pd.DataFrame({"channel": [1, 2, 2]}), layout).to_dict()
