"""How one column of a DataFrame or Arrow table becomes numbers or category counts for a profile.

Layout inference and profile building must read columns identically — the same null rules, the same
datetime conversion, the same notion of "this value is in the vocabulary" — or a production window would be
counted differently from the reference it is compared with. Both go through this module.

Two decisions a reader might question:

* Numbers are read as float64 (datetimes as epoch seconds, durations as seconds). Integers beyond 2**53
  lose precision; bin edges and moments are approximations anyway, and one code path keeps the counting
  fast and identical for every numeric type.
* Category values are grouped by *family* — booleans, numbers, strings — before they are counted, because
  Python (and pandas' hash tables) treat ``True == 1`` and ``False == 0``. A vocabulary holds one family,
  taken from the reference, and values of another family are never matched against it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.errors import InvalidInput

#: How a column is profiled: binned on quantile edges, or counted per category.
ColumnKind = Literal["numeric", "categorical"]
#: The kinds of value a categorical vocabulary may hold; "other" is anything JSON cannot store as a scalar.
Family = Literal["bool", "number", "str", "other"]

#: infer_dtype answers for object columns whose values are all of one family (so hashing cannot conflate).
_ONE_FAMILY: dict[str, Family] = {
    "string": "str",
    "boolean": "bool",
    "integer": "number",
    "floating": "number",
    "mixed-integer-float": "number",
}
_MAX_NAMES_IN_MESSAGE = 10


def describe_names(names: Sequence[str]) -> str:
    """Quote up to ten names for an error message and say how many more there are."""
    shown = ", ".join(repr(name) for name in names[:_MAX_NAMES_IN_MESSAGE])
    rest = len(names) - _MAX_NAMES_IN_MESSAGE
    return f"{shown} and {rest} more" if rest > 0 else shown


class ColumnSource:
    """A pandas DataFrame or a pyarrow Table, read one column at a time as a pandas Series.

    Arrow columns are converted only when asked for, so columns a layout does not profile cost nothing.
    """

    def __init__(self, data: object) -> None:
        if isinstance(data, pd.DataFrame):
            names = list(data.columns)
        elif isinstance(data, pa.Table):
            names = list(data.column_names)
        else:
            raise InvalidInput(
                f"a profile is built from a pandas DataFrame or a pyarrow Table, got {type(data).__name__}; "
                "wrap the data with pd.DataFrame(...) first"
            )
        self._data = data
        self.names: list[str] = names
        self.rows: int = len(data) if isinstance(data, pd.DataFrame) else data.num_rows
        self._repeated = {name for name, seen in Counter(names).items() if seen > 1}

    def require_text_names(self) -> None:
        """Refuse names a stored profile cannot hold (JSON object keys are strings)."""
        not_text = [repr(name) for name in self.names if not isinstance(name, str)]
        if not_text:
            raise InvalidInput(
                f"column names must be strings to be stored in a profile, got {', '.join(not_text[:10])}; "
                "rename them, e.g. df.columns = df.columns.astype(str)"
            )

    def series(self, name: str) -> pd.Series:
        if name in self._repeated:
            raise InvalidInput(f"column {name!r} appears more than once in the data; rename the copies")
        if isinstance(self._data, pd.DataFrame):
            return self._data[name]
        return _arrow_to_series(self._data.column(name))

    def numbers(self, name: str) -> np.ndarray:
        """The column as float64 with NaN for nulls, as ``numeric_values`` reads it. An Arrow column of
        integers or floats goes straight to NumPy: monitoring counts thousands of small windows, and the
        pandas Series on the way cost more than the counting. NumPy converts (nulls of integers become NaN):
        Arrow's cast refuses an integer beyond 2**53, which a float holds rounded, as pandas does."""
        column = self._arrow_column(name)
        if column is not None and (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
            return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
        return numeric_values(name, self.series(name))

    def categories(self, name: str) -> CategoryCounts:
        """The column's value counts, as ``count_categories`` reads them; an Arrow column of text is counted
        by Arrow, without a pandas Series."""
        column = self._arrow_column(name)
        family = None if column is None else _arrow_family(column.type)
        if column is None or family is None:
            return count_categories(self.series(name))
        counted = pc.value_counts(column.drop_null())
        values = counted.field("values").to_numpy(zero_copy_only=False)
        if family == "str":
            values = np.asarray(values, dtype=object)
        counts = np.asarray(counted.field("counts").to_numpy(zero_copy_only=False), dtype=np.int64)
        groups = (CategoryGroup(family, values, counts),) if len(values) else ()
        return CategoryCounts(groups, column.null_count)

    def _arrow_column(self, name: str) -> pa.ChunkedArray | None:
        if isinstance(self._data, pd.DataFrame) or name in self._repeated:
            return None
        return self._data.column(name)


def _arrow_family(kind: pa.DataType) -> Family | None:
    """The family of an Arrow column Arrow can count itself: text, integers or booleans (floats are left to
    pandas, which counts NaN as null)."""
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "str"
    if pa.types.is_integer(kind):
        return "number"
    if pa.types.is_boolean(kind):
        return "bool"
    return None


def _arrow_to_series(column: pa.ChunkedArray) -> pd.Series:
    """Convert an Arrow column, mapping the types pandas would turn into Python objects onto numbers."""
    kind = column.type
    if pa.types.is_decimal(kind):
        column = column.cast(pa.float64())
    elif pa.types.is_date(kind):
        column = column.cast(pa.timestamp("s"))
    return column.to_pandas()


def detect_kind(series: pd.Series) -> ColumnKind:
    """Numbers, datetimes and durations are numeric; booleans and everything else are categorical."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return "numeric"
    return "categorical"


def numeric_values(name: str, series: pd.Series) -> np.ndarray:
    """The column as float64, NaN where it is null (None, NaN, NA, NaT); datetimes become epoch seconds."""
    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if getattr(dtype, "tz", None) is not None:
            series = series.dt.tz_convert(None)  # to UTC, so an aware and a naive column agree
        stamps = np.asarray(series.to_numpy())
        # Keep the column's own unit: converting to nanoseconds would overflow past the year 2262.
        epoch = np.array(0, dtype=stamps.dtype)
        return np.asarray((stamps - epoch) / np.timedelta64(1, "s"), dtype=np.float64)
    if pd.api.types.is_timedelta64_dtype(dtype):
        return np.asarray(np.asarray(series.to_numpy()) / np.timedelta64(1, "s"), dtype=np.float64)
    try:
        return np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InvalidInput(
            f"column {name!r} is profiled as numeric but holds {dtype} values that are not numbers "
            f"({error}); convert it with pd.to_numeric, or profile it as categorical with "
            f"kinds={{{name!r}: 'categorical'}}"
        ) from error


def value_family(value: object) -> Family:
    """Which family a single value belongs to (bool is checked first: it is an int subclass)."""
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | float | np.integer | np.floating):
        return "number"
    if isinstance(value, str):
        return "str"
    return "other"


def json_scalar(value: Any) -> Any:
    """A Python scalar for a numpy one (np.int64 → int, np.str_ → str, np.bool_ → bool)."""
    return value.item() if isinstance(value, np.generic) else value


def check_vocabulary_value(value: Any) -> Any:
    """Return ``value`` as a plain JSON scalar, or raise saying why it cannot be a category."""
    value = json_scalar(value)
    if value_family(value) == "other":
        raise InvalidInput(
            f"category {value!r} is a {type(value).__name__}; a vocabulary holds only str, int, float or bool"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(
            f"category {value!r} is not a finite number; NaN is null and ±inf cannot be stored"
        )
    return value


@dataclass(frozen=True)
class CategoryGroup:
    """Distinct non-null values of one family in a column, with how often each occurs."""

    family: Family
    values: np.ndarray
    counts: np.ndarray  # int64, aligned with values


@dataclass(frozen=True)
class CategoryCounts:
    """What a categorical sketch or vocabulary is made from: per-family value counts, and the nulls."""

    groups: tuple[CategoryGroup, ...]
    null_count: int


def count_categories(series: pd.Series) -> CategoryCounts:
    """Count each distinct non-null value of a column, grouped by value family."""
    null_count = int(series.isna().sum())
    family = _series_family(series)
    if family is not None:
        return CategoryCounts(_count_group(family, series), null_count)
    # A column mixing families: count each family apart, so True and 1 are never one hash-table key.
    families = np.array([value_family(value) for value in series.to_numpy(dtype=object)], dtype=object)
    groups: list[CategoryGroup] = []
    for name in ("bool", "number", "str", "other"):
        groups.extend(_count_group(name, series[families == name]))
    return CategoryCounts(tuple(groups), null_count)


def _count_group(family: Family, series: pd.Series) -> tuple[CategoryGroup, ...]:
    counted = series.value_counts(dropna=True, sort=False)
    counted = counted[counted.to_numpy() > 0]  # a categorical dtype lists unused categories with count 0
    if counted.empty:
        return ()
    values = np.asarray(counted.index.to_numpy())
    return (CategoryGroup(family, values, np.asarray(counted.to_numpy(), dtype=np.int64)),)


def _series_family(series: pd.Series) -> Family | None:
    """The family every value of the column belongs to, judged from its dtype; None when it may be mixed."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _values_family(pd.Series(dtype.categories))
    return _values_family(series)


def _values_family(series: pd.Series) -> Family | None:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return "number"
    if pd.api.types.is_object_dtype(dtype):
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        if inferred == "empty":
            return "str"  # no non-null values: the family is never consulted
        return _ONE_FAMILY.get(inferred)
    if pd.api.types.is_string_dtype(dtype):
        return "str"
    return "other"  # datetimes, periods, intervals, complex numbers... kept apart, never in a vocabulary


def vocabulary_family(vocabulary: Sequence[Any]) -> Family | None:
    """The single family of a vocabulary's values (None for an empty one); raise when they mix."""
    families = sorted({value_family(value) for value in vocabulary})
    if len(families) > 1:
        raise InvalidInput(
            f"a categorical vocabulary mixes {' and '.join(families)} values; a column's vocabulary holds "
            "one type — convert the column first, e.g. df[name].astype(str)"
        )
    return families[0] if families else None
