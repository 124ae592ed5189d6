"""Rows a contract accepts, for running a model before real traffic reaches it (warm-up, a rollout's
candidate check) when the version kept no rows of its own."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from shipyard.contracts._columns import ColumnContract
from shipyard.contracts._contract import Contract


def example_rows(contract: Contract) -> pd.DataFrame:
    """Three rows every column of ``contract`` accepts: low, middle and high of each column's range (or its
    first categories)."""
    return pd.DataFrame({column.name: _values(column) for column in contract.columns})


def _values(column: ColumnContract) -> list[Any]:
    low = column.minimum if column.minimum is not None else column.observed_min
    high = column.maximum if column.maximum is not None else column.observed_max
    if column.categories:
        return [column.categories[index % len(column.categories)] for index in range(3)]
    if column.type in ("integer", "float"):
        lo = float(low) if low is not None else 0.0
        hi = float(high) if high is not None else lo + 1.0
        values = [lo, (lo + hi) / 2, hi]
        return [round(value) for value in values] if column.type == "integer" else values
    if column.type == "boolean":
        return [False, True, False]
    if column.type == "datetime":
        start = pd.Timestamp(str(low)) if low is not None else pd.Timestamp(datetime(2026, 1, 1))
        if column.timezone and start.tzinfo is None:
            start = start.tz_localize(column.timezone)
        return [start, start + timedelta(hours=1), start + timedelta(days=1)]
    return ["a", "b", "c"]
