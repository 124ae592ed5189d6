"""Check one input column against its ``ColumnContract`` and coerce it to the contract's type, safely.

Every check is a column operation that yields a boolean mask over rows; no row is visited in Python. A
column yields at most one problem per row (the first found, in the order of ``PROBLEM_CODES``), so a
row's reasons read as one per field.

Coercions are the ones that cannot change a value's meaning: integers become floats, integral floats
become integers, and (only with ``text_input=True``, i.e. for CSV and other untyped text) numeric,
boolean and ISO-8601 strings become numbers, booleans and timestamps. Anything else is ``wrong_type``:
a bool is not a number, a JSON number is not a category label, a naive timestamp is not a tz-aware one.

A column is a pandas Series or, when the input column has a plain numpy dtype of numbers or booleans, the
bare numpy array of its values: the validator reads such columns straight out of one ``to_numpy()`` call
on a homogeneous frame, because building a Series per column costs more than checking a single row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from shipyard.contracts._columns import ColumnContract, utc_naive
from shipyard.contracts._inputs import native_column
from shipyard.contracts._kinds import BOOLEAN, DATETIME, NUMBER, OTHER, TEXT, value_kinds

#: Every problem code the validator reports, in the order a column's checks claim a row.
#: ``missing_column`` and ``unexpected_column`` concern a whole column and are reported with row -1.
PROBLEM_CODES = (
    "missing_column",  # a required column is absent from the input
    "unexpected_column",  # the input has a column the contract does not name (extra_columns="reject")
    "null",  # None/NaN/NaT/NA in a column that is not nullable
    "wrong_type",  # a value of another type that no safe coercion turns into the column's type
    "not_finite",  # +inf or -inf in a float column
    "below_minimum",  # under the enforced minimum
    "above_maximum",  # over the enforced maximum
    "unknown_category",  # not among the categories of a closed column
)
#: With ``text_input=True`` these strings (after trimming, any case) mean "no value" in non-text columns.
NULL_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none"})
_TRUE_TOKENS = frozenset({"true", "1"})
_FALSE_TOKENS = frozenset({"false", "0"})
# An ISO-8601 time that carries a zone: "…10:00Z", "…10:00:00+01:00", "…10:00:00.5-0530".
_ZONE_SUFFIX = r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[Zz]|UTC|[+-]\d{2}(?::?\d{2})?)$"
_INT64_LIMIT = 2.0**63


#: A column as ``check_column`` takes it: a Series, or the numpy array of a plain number/boolean column.
Column: TypeAlias = pd.Series | np.ndarray


@dataclass(frozen=True)
class ColumnCheck:
    """The outcome for one column: its coerced values and, per problem code, the rows that have it.

    ``as_given`` is true when no coercion was needed: ``values`` are the input column's own values in its
    own dtype, so the validator may hand back the input frame's columns instead of rebuilding them.
    """

    values: Any  # numpy array or pandas extension array in the contract's dtype; arbitrary at problem rows
    problems: dict[str, np.ndarray]
    as_given: bool = False


@dataclass
class _Parsed:
    """A column read as the contract's type, before the contract's rules are applied."""

    raw: np.ndarray | None  # typed values (None: the input column is kept as it is)
    nulls: np.ndarray
    wrong: np.ndarray
    keys: Any = None  # what closed categories compare against, when not ``raw``
    known: np.ndarray | None = None  # membership in the categories, when already computed
    as_given: bool = False  # ``raw`` holds the input's own values in the input's own dtype


class _Findings:
    """Problem masks of one column, kept disjoint: each row keeps the first problem found for it.

    Clean columns are the common case, so nothing is allocated until a mask has a row set.
    """

    def __init__(self) -> None:
        self.taken: np.ndarray | None = None
        self.masks: dict[str, np.ndarray] = {}

    def add(self, code: str, mask: np.ndarray) -> None:
        if not mask.any():
            return
        if self.taken is None:
            self.masks[code] = mask.copy()
            self.taken = mask.copy()
            return
        fresh = mask & ~self.taken
        if fresh.any():
            self.masks[code] = self.masks[code] | fresh if code in self.masks else fresh
            self.taken |= fresh


def check_column(spec: ColumnContract, column: Column, *, text_input: bool) -> ColumnCheck:
    """Problems of ``column`` under ``spec``, and its values in the contract's type."""
    given = column
    if isinstance(column, pd.Series):
        column = native_column(column)
    if isinstance(column.dtype, pd.CategoricalDtype):
        parsed = _parse_categorical(spec, column, text_input)
    else:
        parsed = _PARSERS[spec.type](spec, column, _source(column.dtype), text_input)
    findings = _Findings()
    if not spec.nullable:
        findings.add("null", parsed.nulls)
    if parsed.wrong.any():
        findings.add("wrong_type", parsed.wrong & ~parsed.nulls)
    if spec.type == "float" and parsed.raw is not None:
        findings.add("not_finite", np.isinf(parsed.raw))
    _check_bounds(spec, parsed, findings)
    if spec.closed and spec.categories is not None:
        known = parsed.known if parsed.known is not None else _isin(spec, parsed, column)
        findings.add("unknown_category", ~parsed.nulls & ~known)
    values, as_given = _finish(spec, parsed, column)
    # A column converted on the way in (a pyarrow-backed one) is never handed back as given.
    return ColumnCheck(values, findings.masks, as_given=as_given and column is given)


def check_float_columns(
    specs: list[ColumnContract], values: np.ndarray, *, text_input: bool
) -> list[ColumnCheck]:
    """``check_column`` for float columns given together as one float64 array (rows × columns).

    Float64 input to a float column can only be null, infinite or out of bounds, which a few whole-array
    operations screen for in every column at once; only a column the screen flags goes through
    ``check_column`` to find out which rows have which problem. A one-row request of twenty numbers is
    then checked in a handful of numpy calls instead of twenty rounds of them.
    """
    nulls = np.isnan(values)
    flagged = np.isinf(values) | (nulls & ~np.array([spec.nullable for spec in specs]))
    if any(spec.minimum is not None or spec.maximum is not None for spec in specs):
        # NaN compares false both ways, and a null or infinite row is flagged already.
        lows = np.array(
            [-np.inf if spec.minimum is None else spec.minimum for spec in specs], dtype=np.float64
        )
        highs = np.array(
            [np.inf if spec.maximum is None else spec.maximum for spec in specs], dtype=np.float64
        )
        flagged |= (values < lows) | (values > highs)
    suspect = flagged.any(axis=0).tolist()
    return [
        check_column(spec, values[:, position], text_input=text_input)
        if suspect[position]
        else ColumnCheck(values[:, position], {}, as_given=True)
        for position, spec in enumerate(specs)
    ]


#: What each plain numpy dtype kind is as a source; other kinds go through pandas' dtype tests.
_NUMPY_SOURCES = {
    "b": "boolean",
    "i": "integer",
    "u": "integer",
    "f": "float",
    "M": "datetime",
    "O": "object",
}


def _source(dtype: Any) -> str:
    """What kind of input column this is, whatever library representation it has."""
    if isinstance(dtype, np.dtype) and dtype.kind in _NUMPY_SOURCES:
        return _NUMPY_SOURCES[dtype.kind]
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if dtype == np.dtype(object):
        return "object"
    if pd.api.types.is_string_dtype(dtype):
        return "text"
    return "other"


def _parse_categorical(spec: ColumnContract, column: pd.Series, text_input: bool) -> _Parsed:
    """A pandas Categorical is checked on its (few) categories, then spread to rows through its codes."""
    codes = column.cat.codes.to_numpy()
    categories = pd.Series(np.asarray(column.cat.categories, dtype=object), dtype=object)
    nulls = codes < 0
    if len(categories) == 0:
        everything_null = pd.Series(np.full(len(column), None, dtype=object))
        return _PARSERS[spec.type](spec, everything_null, "object", text_input)
    sub = _PARSERS[spec.type](spec, categories, "object", text_input)
    positions = np.where(nulls, 0, codes)
    raw = sub.raw[positions] if sub.raw is not None else None
    if raw is not None and raw.dtype.kind == "f":
        raw[nulls] = np.nan
    elif raw is not None and raw.dtype.kind == "M":
        raw[nulls] = np.datetime64("NaT")
    known = None
    if spec.closed and spec.categories is not None:  # membership of each category, spread through the codes
        known = _isin(spec, sub, categories)[positions]
    return _Parsed(raw, nulls | sub.nulls[positions], sub.wrong[positions] & ~nulls, known=known)


# --- numbers -------------------------------------------------------------------------------------------


def _numpy(column: Column) -> np.ndarray:
    """The values of a column with a numpy dtype."""
    return column if isinstance(column, np.ndarray) else column.to_numpy()


def _series(column: Column) -> pd.Series:
    """``column`` as a Series, for the branches of dtypes that only a Series has (a bare array never
    reaches them, but wrapping keeps them correct if one ever did)."""
    return column if isinstance(column, pd.Series) else pd.Series(column)


def _nulls(column: Column) -> np.ndarray:
    """Which cells are null (NaN, None, NaT, NA), as pandas' ``isna`` decides."""
    if isinstance(column, np.ndarray):  # numbers or booleans: only floats can be null
        return np.isnan(column) if column.dtype.kind == "f" else np.zeros(len(column), dtype=bool)
    return np.asarray(column.array.isna(), dtype=bool)  # what Series.isna() holds, without the Series


def _as_float(column: Column) -> np.ndarray:
    if isinstance(column.dtype, np.dtype):
        return np.asarray(_numpy(column), dtype=np.float64)
    return _series(column).to_numpy(dtype=np.float64, na_value=np.nan)


def _is_float64(column: Column) -> bool:
    """True when ``_as_float`` returns the column's own values, unconverted."""
    return isinstance(column.dtype, np.dtype) and column.dtype == np.float64


def _float_or_infinity(value: Any) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


_floats_one_by_one = np.frompyfunc(_float_or_infinity, 1, 1)


def _to_floats(values: np.ndarray) -> np.ndarray:
    """Numbers as float64; Python ints beyond float's range become ±inf (which no contract accepts)."""
    try:
        return values.astype(np.float64)
    except OverflowError:  # only a Python int of 309+ digits gets here
        return _floats_one_by_one(values).astype(np.float64)


def _is_integral(values: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.isfinite(values) & (np.floor(values) == values) & (np.abs(values) < _INT64_LIMIT)


@dataclass
class _Numbers:
    floats: np.ndarray  # every cell as a float (NaN where null or not a number)
    cells: np.ndarray  # the cells, numbers parsed from text in place of their text
    nulls: np.ndarray
    wrong: np.ndarray


def _numbers_from_cells(column: pd.Series, text_input: bool) -> _Numbers:
    """Numbers out of an object or text column: number cells pass, numeric text only from text input."""
    cells = column.to_numpy(dtype=object)
    nulls = pd.isna(cells)
    kinds = value_kinds(cells, nulls)
    floats = np.full(len(cells), np.nan)
    wrong = (kinds == BOOLEAN) | (kinds == DATETIME) | (kinds == OTHER)
    numbers = kinds == NUMBER
    if numbers.any():
        floats[numbers] = _to_floats(cells[numbers])
    text = np.flatnonzero(kinds == TEXT)
    if len(text) and not text_input:
        wrong[text] = True
    elif len(text):
        trimmed = pd.Series(cells[text], dtype=object).str.strip()
        blank = trimmed.str.lower().isin(NULL_TOKENS).to_numpy()
        parsed = pd.to_numeric(trimmed.mask(blank), errors="coerce")
        parsed_floats = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
        nulls[text[blank]] = True
        wrong[text[np.isnan(parsed_floats) & ~blank]] = True
        floats[text] = parsed_floats
        cells = cells.copy()  # never write into the caller's array
        cells[text] = parsed.to_numpy(dtype=object)
    return _Numbers(floats, cells, nulls, wrong)


def _parse_float(spec: ColumnContract, column: Column, source: str, text_input: bool) -> _Parsed:
    if source in ("float", "integer"):
        values = _as_float(column)
        nulls = np.isnan(values)
        return _Parsed(values, nulls, np.zeros(len(values), dtype=bool), as_given=_is_float64(column))
    if source in ("object", "text"):
        numbers = _numbers_from_cells(column, text_input)
        return _Parsed(numbers.floats, numbers.nulls, numbers.wrong)
    return _not_this_type(column, np.full(len(column), np.nan))


def _parse_integer(spec: ColumnContract, column: Column, source: str, text_input: bool) -> _Parsed:
    size = len(column)
    if source == "integer":
        dtype = column.dtype
        nulls = np.zeros(size, dtype=bool) if isinstance(dtype, np.dtype) else _nulls(column)
        if dtype.kind == "u" and dtype.itemsize == 8:  # uint64 above int64's range does not fit
            if isinstance(dtype, np.dtype):
                unsigned = _numpy(column)
            else:
                unsigned = _series(column).to_numpy(dtype=np.uint64, na_value=0)
            return _Parsed(unsigned.astype(np.int64), nulls, unsigned > np.iinfo(np.int64).max)
        if isinstance(dtype, np.dtype):
            values = np.asarray(_numpy(column), dtype=np.int64)
            return _Parsed(values, nulls, np.zeros(size, dtype=bool), as_given=dtype == np.int64)
        return _Parsed(
            _series(column).to_numpy(dtype=np.int64, na_value=0), nulls, np.zeros(size, dtype=bool)
        )
    if source == "float":
        floats = _as_float(column)
        nulls = np.isnan(floats)
        integral = _is_integral(floats)
        return _Parsed(np.where(integral, floats, 0).astype(np.int64), nulls, ~integral)
    if source in ("object", "text"):
        numbers = _numbers_from_cells(column, text_input)
        usable = _is_integral(numbers.floats) & ~numbers.wrong & ~numbers.nulls
        ints = np.zeros(size, dtype=np.int64)
        ints[usable] = numbers.cells[usable].astype(np.int64)  # from the cells: exact beyond 2**53
        return _Parsed(ints, numbers.nulls, ~usable)
    return _not_this_type(column, np.zeros(size, dtype=np.int64))


def _numbers_as_text(values: np.ndarray) -> np.ndarray:
    """Numbers as the text a CSV would have held: whole numbers without a trailing '.0'."""
    floats = _to_floats(values)
    if values.dtype == object:  # Python ints are written exactly; floats only while they are exact
        text = cells_as_text(values)
        integral = _is_integral(floats) & (np.abs(floats) < 2.0**53)
    else:
        text = floats.astype(str).astype(object)
        integral = _is_integral(floats)
    text[integral] = floats[integral].astype(np.int64).astype(str)
    return text


def _bounded_str(value: object) -> str:
    try:
        return str(value)
    except ValueError:
        return f"<{type(value).__name__} too long to show>"


def cells_as_text(cells: np.ndarray) -> np.ndarray:
    """``str()`` of each cell of an object array (an int past Python's digit limit is named, not shown)."""
    series = pd.Series(cells, dtype=object)
    try:
        return series.map(str).to_numpy(dtype=object)
    except ValueError:
        return series.map(_bounded_str).to_numpy(dtype=object)


# --- booleans ------------------------------------------------------------------------------------------


def _parse_boolean(spec: ColumnContract, column: Column, source: str, text_input: bool) -> _Parsed:
    size = len(column)
    if source == "boolean":
        if isinstance(column.dtype, np.dtype):
            none = np.zeros(size, dtype=bool)
            return _Parsed(_numpy(column), none, none.copy(), as_given=True)
        values = _series(column).to_numpy(dtype=bool, na_value=False)
        return _Parsed(values, _nulls(column), np.zeros(size, dtype=bool))
    if source in ("integer", "float") and text_input:  # a CSV column of 0/1 arrives as numbers
        floats = _as_float(column)
        nulls = np.isnan(floats)
        return _Parsed(floats == 1, nulls, (floats != 0) & (floats != 1))
    if source not in ("object", "text"):
        return _not_this_type(column, np.zeros(size, dtype=bool))
    cells = _series(column).to_numpy(dtype=object)
    nulls = pd.isna(cells)
    kinds = value_kinds(cells, nulls)
    values = np.zeros(size, dtype=bool)
    booleans = kinds == BOOLEAN
    values[booleans] = cells[booleans].astype(bool)
    wrong = ~booleans
    if text_input:
        text = np.flatnonzero(kinds == TEXT)
        words = pd.Series(cells[text], dtype=object).str.strip().str.lower()
        truths, falsities = words.isin(_TRUE_TOKENS).to_numpy(), words.isin(_FALSE_TOKENS).to_numpy()
        blank = words.isin(NULL_TOKENS).to_numpy()
        values[text] = truths
        wrong[text] = ~(truths | falsities | blank)
        nulls[text[blank]] = True
        numbers = np.flatnonzero(kinds == NUMBER)
        floats = _to_floats(cells[numbers])
        values[numbers] = floats == 1
        wrong[numbers] = (floats != 0) & (floats != 1)
    return _Parsed(values, nulls, wrong)


# --- timestamps ----------------------------------------------------------------------------------------


def _parse_datetime(spec: ColumnContract, column: Column, source: str, text_input: bool) -> _Parsed:
    """Timestamps as naive values: wall-clock time for a naive contract, UTC for a tz-aware one."""
    aware_contract = spec.timezone is not None
    size = len(column)
    if source == "datetime":
        column = _series(column)
        nulls = _nulls(column)
        if (column.dt.tz is not None) != aware_contract:
            return _Parsed(np.full(size, np.datetime64("NaT"), dtype="datetime64[us]"), nulls, ~nulls)
        if aware_contract:
            column = column.dt.tz_convert("UTC").dt.tz_localize(None)
            return _Parsed(column.to_numpy(), nulls, np.zeros(size, dtype=bool))
        as_given = isinstance(column.dtype, np.dtype)
        return _Parsed(column.to_numpy(), nulls, np.zeros(size, dtype=bool), as_given=as_given)
    if source not in ("object", "text"):
        return _not_this_type(column, np.full(size, np.datetime64("NaT"), dtype="datetime64[us]"))
    cells = _series(column).to_numpy(dtype=object)
    nulls = pd.isna(cells)
    kinds = value_kinds(cells, nulls)
    wrong = (kinds == BOOLEAN) | (kinds == NUMBER) | (kinds == OTHER)
    aware = np.zeros(size, dtype=bool)
    pieces: list[tuple[np.ndarray, np.ndarray]] = []
    stamps = np.flatnonzero(kinds == DATETIME)
    if len(stamps):
        values, aware[stamps], failed = timestamps_from_objects(cells[stamps])
        wrong[stamps[failed]] = True
        pieces.append((stamps, values))
    text = np.flatnonzero(kinds == TEXT)
    if len(text) and not text_input:
        wrong[text] = True
    elif len(text):
        trimmed = pd.Series(cells[text], dtype=object).str.strip()
        blank = trimmed.str.lower().isin(NULL_TOKENS).to_numpy()
        parsed = pd.to_datetime(trimmed.mask(blank), format="ISO8601", errors="coerce", utc=True)
        nulls[text[blank]] = True
        wrong[text[parsed.isna().to_numpy() & ~blank]] = True
        aware[text] = trimmed.str.contains(_ZONE_SUFFIX, regex=True).to_numpy(dtype=bool, na_value=False)
        pieces.append((text, parsed.dt.tz_localize(None).to_numpy()))
    wrong |= (aware != aware_contract) & ~nulls
    unit = min((np.datetime_data(values.dtype)[0] for _, values in pieces), key=_UNITS.index, default="us")
    raw = np.full(size, np.datetime64("NaT"), dtype=f"datetime64[{unit}]")
    for where, values in pieces:
        raw[where] = values
    return _Parsed(raw, nulls, wrong)


_UNITS = ("ns", "us", "ms", "s")
_tzinfo_of = np.frompyfunc(getattr, 3, 1)


def timestamps_from_objects(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """datetime/Timestamp cells as (UTC-or-wall-clock naive values, which were tz-aware, which failed)."""
    try:
        index = pd.DatetimeIndex(pd.to_datetime(cells))
    except (ValueError, TypeError):  # zones differ between cells, or aware and naive cells are mixed
        aware = _tzinfo_of(cells, "tzinfo", None).astype(bool)
        index = pd.DatetimeIndex(pd.to_datetime(cells, utc=True, errors="coerce"))
        return index.tz_localize(None).to_numpy(), aware, index.isna()
    aware = np.full(len(cells), index.tz is not None)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.to_numpy(), aware, np.zeros(len(cells), dtype=bool)


# --- text ----------------------------------------------------------------------------------------------


def _parse_text(spec: ColumnContract, column: Column, source: str, text_input: bool) -> _Parsed:
    """Category and string columns: text passes; numbers only when the categories are numbers or from CSV."""
    size = len(column)
    if spec.numeric_categories:
        if source in ("integer", "float"):
            floats = _as_float(column)
            return _Parsed(None, np.isnan(floats), np.zeros(size, dtype=bool), keys=floats)
        if source in ("object", "text"):
            numbers = _numbers_from_cells(column, text_input)
            return _Parsed(numbers.cells, numbers.nulls, numbers.wrong, keys=numbers.floats)
        return _not_this_type(column, None)
    if source == "text":
        return _Parsed(None, _nulls(column), np.zeros(size, dtype=bool), keys=column)
    if source in ("integer", "float"):
        nulls = _nulls(column)
        if not text_input:
            return _Parsed(None, nulls, ~nulls)
        text = _numbers_as_text(_as_float(column))
        text[nulls] = None
        return _Parsed(text, nulls, np.zeros(size, dtype=bool))
    if source != "object":
        return _not_this_type(column, None)
    cells = _series(column).to_numpy(dtype=object)
    nulls = pd.isna(cells)
    kinds = value_kinds(cells, nulls)
    number_rows = np.flatnonzero(kinds == NUMBER)
    if text_input and len(number_rows):
        cells = cells.copy()
        cells[number_rows] = _numbers_as_text(cells[number_rows])
        return _Parsed(cells, nulls, (kinds != TEXT) & (kinds != NUMBER))
    return _Parsed(None, nulls, kinds != TEXT, keys=cells)


def _not_this_type(column: Column, placeholder: np.ndarray | None) -> _Parsed:
    """Every non-null value is of a type the contract's type cannot be safely made from."""
    nulls = _nulls(column)
    return _Parsed(placeholder, nulls, ~nulls)


_PARSERS = {
    "integer": _parse_integer,
    "float": _parse_float,
    "boolean": _parse_boolean,
    "datetime": _parse_datetime,
    "category": _parse_text,
    "string": _parse_text,
}


# --- rules and output ----------------------------------------------------------------------------------


def _check_bounds(spec: ColumnContract, parsed: _Parsed, findings: _Findings) -> None:
    if parsed.raw is None or (spec.minimum is None and spec.maximum is None):
        return
    present = ~parsed.nulls
    for code, bound, outside in (
        ("below_minimum", spec.minimum, np.less),
        ("above_maximum", spec.maximum, np.greater),
    ):
        if bound is None:
            continue
        limit = utc_naive(pd.Timestamp(bound)).to_datetime64() if spec.type == "datetime" else bound
        findings.add(code, present & outside(parsed.raw, limit))


def _isin(spec: ColumnContract, parsed: _Parsed, column: Column) -> np.ndarray:
    allowed = list(spec.categories or ())
    keys = parsed.keys if parsed.keys is not None else parsed.raw
    if keys is None:
        keys = column if isinstance(column, pd.Series) else pd.Series(column)
    if isinstance(keys, pd.Series):
        return keys.isin(allowed).to_numpy(dtype=bool)
    if keys.dtype == object:
        return pd.Series(keys, dtype=object).isin(allowed).to_numpy(dtype=bool)
    return np.isin(keys, np.asarray(allowed, dtype=keys.dtype))


def _finish(spec: ColumnContract, parsed: _Parsed, column: Column) -> tuple[Any, bool]:
    """The column's values in the dtype the contract promises (see ``Contract.validate``), and whether
    they are the input's own values in the input's own dtype."""
    raw = parsed.raw
    if raw is None:
        return (column.array if isinstance(column, pd.Series) else column), True
    if spec.type == "integer" and spec.nullable:
        return pd.arrays.IntegerArray(np.where(parsed.nulls, 0, raw), parsed.nulls.copy()), False
    if spec.type == "boolean" and spec.nullable:
        return pd.arrays.BooleanArray(np.where(parsed.nulls, False, raw), parsed.nulls.copy()), False
    if spec.type == "datetime" and spec.timezone is not None:
        return pd.DatetimeIndex(raw).tz_localize("UTC").tz_convert(spec.timezone).array, False
    return raw, parsed.as_given


def empty_values(spec: ColumnContract, size: int) -> Any:
    """``size`` nulls in the contract's dtype, for an optional column the input does not have."""
    missing = np.ones(size, dtype=bool)
    if spec.type == "integer":
        return pd.arrays.IntegerArray(np.zeros(size, dtype=np.int64), missing)
    if spec.type == "boolean":
        return pd.arrays.BooleanArray(np.zeros(size, dtype=bool), missing)
    if spec.type == "float":
        return np.full(size, np.nan)
    if spec.type == "datetime":
        stamps = np.full(size, np.datetime64("NaT"), dtype="datetime64[us]")
        return stamps if spec.timezone is None else pd.DatetimeIndex(stamps).tz_localize(spec.timezone).array
    return np.full(size, None, dtype=object)
