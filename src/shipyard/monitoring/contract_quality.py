"""Data quality from the data contract alone, for a version registered without a reference profile.

Drift needs the reference profile's sketches; data quality does not. The contract records what training
saw — each column's observed minimum and maximum, and the categories of a category column — so a window's
missing rate, its share of numbers outside the observed range and its share of categories training never
had can be counted against the contract, row group by row group, as ``monitoring.windows`` reads the log.
With a profile, the profile's figures are used instead (they are the same measures, from the sketches).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.contracts import Contract

_NUMERIC_TYPES = {"integer", "float"}


class ContractCounts:
    """Counts, over a window, of what each contract column held: nulls, values outside the observed range,
    categories outside the observed ones."""

    def __init__(self, contract: Contract | None, features: list[str]) -> None:
        wanted = set(features)
        self.columns = [column for column in contract.columns if column.name in wanted] if contract else []
        self.rows = 0
        self.nulls = dict.fromkeys((c.name for c in self.columns), 0)
        self.values = dict.fromkeys((c.name for c in self.columns), 0)
        self.outside = dict.fromkeys((c.name for c in self.columns), 0)

    @classmethod
    def for_version(cls, input_schema: Mapping[str, Any] | None, features: list[str]) -> ContractCounts:
        """Counts for a version's contract (``input_schema``); counting nothing when it is None."""
        return cls(Contract.from_dict(input_schema) if input_schema else None, features)

    def counted(self, inputs: pa.Table) -> pa.Table:
        """Count one row group of a window's inputs (one column per contract column); returns it."""
        if not self.columns:
            return inputs
        self.rows += inputs.num_rows
        for column in self.columns:
            if column.name not in inputs.column_names:  # an optional column nobody sent
                self.nulls[column.name] += inputs.num_rows
                continue
            values = inputs[column.name]
            nulls = _missing(values)
            self.nulls[column.name] += nulls
            self.values[column.name] += inputs.num_rows - nulls
            self.outside[column.name] += _outside(column, values)
        return inputs

    def fill(self, quality: dict[str, Any]) -> dict[str, Any]:
        """``quality`` (per feature) with the figures a missing profile left empty counted from the contract;
        the contract's rejections already in it are kept."""
        if not self.rows:
            return quality
        filled = dict(quality)
        for column in self.columns:
            name = column.name
            current = filled.get(name)
            if current is None or current.missing_rate is not None:
                continue
            seen = self.values[name]
            share = self.outside[name] / seen if seen else None
            figures: dict[str, float | None] = {"missing_rate": self.nulls[name] / self.rows}
            if column.type in _NUMERIC_TYPES and _has_range(column):
                figures["out_of_range_share"] = share
            elif column.type == "category" and column.categories is not None:
                # The contract lists every category training had: none of them was "unseen" there.
                figures["unseen_share"] = share
                figures["reference_unseen_share"] = 0.0
            filled[name] = dataclasses.replace(current, **figures)
        return filled


def _missing(values: pa.ChunkedArray) -> int:
    """Nulls, and NaN in float columns (a float row logged from a matrix keeps NaN as a value)."""
    missing = values.null_count
    if pa.types.is_floating(values.type):
        missing += int(pc.sum(pc.is_nan(values)).as_py() or 0)
    return missing


def _has_range(column: Any) -> bool:
    return isinstance(column.observed_min, int | float) and isinstance(column.observed_max, int | float)


def _outside(column: Any, values: pa.ChunkedArray) -> int:
    """Non-null values outside what training saw: beyond the observed range, or an unknown category."""
    if column.type in _NUMERIC_TYPES and _has_range(column):
        numbers = values.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        low, high = float(column.observed_min), float(column.observed_max)
        return int(np.count_nonzero((numbers < low) | (numbers > high)))
    if column.type == "category" and column.categories is not None:
        present = pc.drop_null(values)
        if not len(present):
            return 0
        known = pa.array([str(value) for value in column.categories], pa.string())
        as_text = pc.cast(present, pa.string())
        return int(len(present) - pc.sum(pc.is_in(as_text, value_set=known)).as_py())
    return 0
