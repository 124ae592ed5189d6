"""Infer column contracts from training data, and find the cells of mixed-type columns.

Inference reads types from dtypes where the data has them (integers stay integers even with nulls, floats
stay floats even when every value is whole: no silent narrowing) and from the values where it does not
(``object`` columns). What it records about the data (nullability, observed range, observed categories) is
informational; nothing it infers tightens validation beyond type and nullability until a user says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from shipyard.contracts._checks import timestamps_from_objects
from shipyard.contracts._columns import ColumnContract, ColumnType
from shipyard.contracts._inputs import as_frame, native_column
from shipyard.contracts._kinds import BOOLEAN, DATETIME, KIND_NAMES, NULL, NUMBER, OTHER, TEXT, value_kinds
from shipyard.errors import InvalidInput, not_found


def infer_columns(data: object, *, exclude: Iterable[str], max_categories: int) -> tuple[ColumnContract, ...]:
    """One ColumnContract per column of ``data`` that is not excluded."""
    if not isinstance(data, pd.DataFrame | pa.Table | pa.RecordBatch):
        raise InvalidInput(
            f"a contract is inferred from a pandas DataFrame or a pyarrow Table, not a {type(data).__name__}"
        )
    if isinstance(max_categories, bool) or not isinstance(max_categories, int) or max_categories < 0:
        raise InvalidInput(f"max_categories must be a whole number >= 0, got {max_categories!r}")
    frame = as_frame(data)
    if len(frame) == 0:
        raise InvalidInput("cannot infer a contract from an empty table (0 rows); pass the training rows")
    names = list(frame.columns)
    for name in names:
        if not isinstance(name, str):
            raise InvalidInput(
                f"column names must be text to be part of a contract; column {name!r} is a "
                f"{type(name).__name__}"
            )
    excluded = {exclude} if isinstance(exclude, str) else set(exclude)
    unknown = sorted(excluded - set(names))
    if unknown:
        raise not_found("column", unknown[0], within="the data, so it cannot be excluded", candidates=names)
    columns = tuple(
        _infer_column(name, frame[name], max_categories) for name in names if name not in excluded
    )
    if not columns:
        raise InvalidInput("every column was excluded, so the contract would describe nothing")
    return columns


def _infer_column(name: str, column: pd.Series, max_categories: int) -> ColumnContract:
    column = native_column(column)
    nulls = column.isna().to_numpy()
    if nulls.all():
        raise InvalidInput(
            f"column {name!r} is entirely null, so its type cannot be inferred; exclude it "
            f"(exclude=[{name!r}]) or pass data where it has values"
        )
    nullable = bool(nulls.any())
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        # The categories that occur are all that matters, and there are few of them.
        present = np.unique(column.cat.codes.to_numpy()[~nulls])
        values = np.asarray(column.cat.categories, dtype=object)[present]
        return _from_distinct_objects(name, values, nullable, max_categories)
    if pd.api.types.is_bool_dtype(dtype):
        seen = tuple(sorted(bool(value) for value in pd.unique(column[~nulls])))
        return ColumnContract(name, "boolean", nullable, categories=seen)
    if pd.api.types.is_integer_dtype(dtype):
        values = column[~nulls]
        distinct = pd.unique(values)
        categories = (
            tuple(sorted(int(value) for value in distinct)) if len(distinct) <= max_categories else None
        )
        return ColumnContract(
            name,
            "integer",
            nullable,
            observed_min=int(values.min()),
            observed_max=int(values.max()),
            categories=categories,
        )
    if pd.api.types.is_float_dtype(dtype):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = values[np.isfinite(values)]
        low, high = (float(finite.min()), float(finite.max())) if len(finite) else (None, None)
        return ColumnContract(name, "float", nullable, observed_min=low, observed_max=high)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return ColumnContract(
            name,
            "datetime",
            nullable,
            observed_min=column.min().isoformat(),
            observed_max=column.max().isoformat(),
            timezone=zone_name(column.dt.tz),
        )
    if dtype == np.dtype(object):
        return _from_objects(name, column.to_numpy(), nulls, nullable, max_categories)
    if pd.api.types.is_string_dtype(dtype):
        return _text_column(name, pd.unique(column[~nulls]), nullable, max_categories)
    raise InvalidInput(
        f"column {name!r} has dtype {dtype}, which a contract cannot describe; convert it (e.g. durations to "
        f"seconds as floats) or exclude it"
    )


def _from_objects(
    name: str, cells: np.ndarray, nulls: np.ndarray, nullable: bool, max_categories: int
) -> ColumnContract:
    kinds = value_kinds(cells, nulls)
    present = set(np.unique(kinds).tolist()) - {NULL}
    if OTHER in present:
        row = int(np.flatnonzero(kinds == OTHER)[0])
        raise InvalidInput(
            f"column {name!r} holds {type(cells[row]).__name__} values (first in row {row}), which a "
            f"contract cannot describe; convert them to text or numbers, or exclude the column"
        )
    if len(present) > 1:  # mixed kinds: only text describes them all (find_mixed_types says where)
        return ColumnContract(name, "string", nullable)
    if present == {DATETIME}:
        stamps_present = cells[~nulls]
        values, aware, failed = timestamps_from_objects(stamps_present)
        if failed.any() or (aware.any() and not aware.all()):
            raise InvalidInput(
                f"column {name!r} mixes timezone-aware and naive timestamps; make them all one or the other"
            )
        stamps = pd.DatetimeIndex(values)
        zone = None
        if aware.all():
            try:
                zone = zone_name(pd.DatetimeIndex(pd.to_datetime(stamps_present)).tz)
            except (ValueError, TypeError):  # several zones: UTC is the one they all convert to
                zone = "UTC"
            stamps = stamps.tz_localize("UTC").tz_convert(zone)
        return ColumnContract(
            name,
            "datetime",
            nullable,
            observed_min=stamps.min().isoformat(),
            observed_max=stamps.max().isoformat(),
            timezone=zone,
        )
    return _from_distinct_objects(name, pd.unique(cells[~nulls]), nullable, max_categories)


def _from_distinct_objects(
    name: str, values: np.ndarray, nullable: bool, max_categories: int
) -> ColumnContract:
    """The contract of a column known only by its distinct non-null values (all of one kind)."""
    kinds = set(value_kinds(values, np.zeros(len(values), dtype=bool)).tolist())
    if kinds == {TEXT}:
        return _text_column(name, values, nullable, max_categories)
    if kinds == {BOOLEAN}:
        return ColumnContract(name, "boolean", nullable, categories=tuple(sorted({bool(v) for v in values})))
    if kinds == {NUMBER}:
        if len(values) <= max_categories:
            numbers = {value.item() if isinstance(value, np.generic) else value for value in values}
            return ColumnContract(name, "category", nullable, categories=tuple(sorted(numbers)))
        # Too many distinct numbers to be labels: a numeric column that happens to be stored as objects.
        kind: ColumnType = "integer" if pd.api.types.infer_dtype(values) == "integer" else "float"
        numeric = pd.to_numeric(pd.Series(values, dtype=object))
        low, high = numeric.min().item(), numeric.max().item()
        return ColumnContract(name, kind, nullable, observed_min=low, observed_max=high)
    if len(kinds) > 1:
        return ColumnContract(name, "string", nullable)
    named = ", ".join(KIND_NAMES[kind] for kind in sorted(kinds))
    raise InvalidInput(f"column {name!r} holds {named} values, which a contract cannot describe; exclude it")


def _text_column(name: str, distinct: Any, nullable: bool, max_categories: int) -> ColumnContract:
    if len(distinct) <= max_categories:
        return ColumnContract(name, "category", nullable, categories=tuple(sorted(str(v) for v in distinct)))
    return ColumnContract(name, "string", nullable)


def zone_name(zone: dt.tzinfo | None) -> str | None:
    """The name a tz-aware column's zone is stored under ('Europe/Paris', 'UTC', 'UTC+01:00')."""
    if zone is None:
        return None
    key = getattr(zone, "key", None) or getattr(zone, "zone", None)  # zoneinfo, pytz
    return str(key) if key else str(zone)


def find_mixed_types(data: object) -> dict[str, list[int]]:
    """For each ``object`` column mixing kinds of values, the rows whose kind is not the column's usual one.

    Kinds are text, number (ints and floats alike), boolean, datetime and other; nulls belong to no kind.
    The majority kind is the column's usual one (ties go to text, then number), and the positions returned
    are 0-based row positions, so a caller can say "column 'age' has text in rows 17, 203". Typed columns
    (numeric, text, Arrow) cannot mix kinds and are never reported.
    """
    frame = as_frame(data)
    mixed: dict[str, list[int]] = {}
    for name in frame.columns:
        column = frame[name]
        if column.dtype != np.dtype(object):
            continue
        cells = column.to_numpy()
        kinds = value_kinds(cells, pd.isna(cells))
        counts = np.bincount(kinds, minlength=len(KIND_NAMES))
        counts[NULL] = 0
        if np.count_nonzero(counts) <= 1:
            continue
        usual = int(np.argmax(counts))
        mixed[str(name)] = np.flatnonzero((kinds != usual) & (kinds != NULL)).tolist()
    return mixed
