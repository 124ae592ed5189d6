"""Profile layouts: the bin edges and category vocabularies, fixed once from the reference data.

Sketches can only be merged, and distributions only compared, when they were counted into the same bins.
So the layout is decided once — from the training data, when a model version is registered — stored with
the version, and reused to profile every window of production data. A numeric column gets quantile bin
edges; a categorical column gets a vocabulary of its most frequent values. Values a window has that the
reference never had still count: below the first edge or above the last, or as "other".
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np
import pandas as pd
import pyarrow as pa

from shipyard.errors import InvalidInput
from shipyard.stats._columns import (
    CategoryCounts,
    CategoryGroup,
    ColumnKind,
    ColumnSource,
    Family,
    check_vocabulary_value,
    count_categories,
    describe_names,
    detect_kind,
    json_scalar,
    numeric_values,
    vocabulary_family,
)
from shipyard.stats._scaling import power_of_two_scale
from shipyard.stats._serialisation import (
    read_field,
    read_header,
    read_list,
    read_mapping,
    write_header,
)

_KINDS: tuple[ColumnKind, ...] = ("numeric", "categorical")
#: Below this magnitude, the difference of two values (used to interpolate quantiles) cannot overflow.
_LARGEST_UNSCALED = 2.0**1000


@dataclass(frozen=True)
class NumericLayout:
    """Bins of a numeric column, given by strictly increasing, finite inner edges.

    The bins are ``(-inf, e0), [e0, e1), ..., [e_last, +inf)``: a value equal to an edge belongs to the bin
    that starts there, and values outside the reference's range land in the outer bins instead of being
    lost. No edges means one bin holding every value.
    """

    edges: tuple[float, ...]

    def __post_init__(self) -> None:
        try:
            edges = tuple(float(edge) for edge in self.edges)
        except (TypeError, ValueError) as error:
            raise InvalidInput(f"bin edges must be numbers ({error})") from error
        if not all(math.isfinite(edge) for edge in edges):
            raise InvalidInput(f"bin edges must be finite numbers, got {list(edges)}")
        if any(lower >= upper for lower, upper in itertools.pairwise(edges)):
            raise InvalidInput(f"bin edges must be strictly increasing, got {list(edges)}")
        object.__setattr__(self, "edges", edges)

    @property
    def bin_count(self) -> int:
        """How many bins a sketch counts into: one more than there are edges."""
        return len(self.edges) + 1

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "numeric", "edges": list(self.edges)}


@dataclass(frozen=True)
class CategoricalLayout:
    """The categories counted one by one — the reference's most frequent values; the rest count as "other".

    A vocabulary holds one type of value: all strings, all numbers (int or float) or all booleans, taken
    from the reference. Mixing is refused because Python treats ``True == 1``: a boolean vocabulary never
    matches the numbers 0 and 1, nor a numeric vocabulary True and False. NaN and None are nulls, never
    categories; infinities cannot be stored in JSON, so they count as "other".
    """

    vocabulary: tuple[Any, ...]

    def __post_init__(self) -> None:
        vocabulary = tuple(check_vocabulary_value(value) for value in self.vocabulary)
        vocabulary_family(vocabulary)
        if len(set(vocabulary)) != len(vocabulary):
            repeated = sorted({repr(value) for value in vocabulary if vocabulary.count(value) > 1})
            raise InvalidInput(f"a vocabulary lists each category once; repeated: {', '.join(repeated)}")
        object.__setattr__(self, "vocabulary", vocabulary)

    @property
    def family(self) -> Family | None:
        """The type of value the vocabulary holds ("bool", "number" or "str"); None when it is empty."""
        return vocabulary_family(self.vocabulary)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "categorical", "vocabulary": list(self.vocabulary)}


ColumnLayout = NumericLayout | CategoricalLayout


class InferOptions(TypedDict, total=False):
    """Keyword arguments of :meth:`ProfileLayout.infer`, accepted by ``Profile.build`` too."""

    bins: int
    top_k: int
    kinds: Mapping[str, ColumnKind] | None


@dataclass(frozen=True)
class ProfileLayout:
    """The layout of every profiled column, in the reference's column order."""

    columns: dict[str, ColumnLayout]

    def __post_init__(self) -> None:
        columns = dict(self.columns)  # a private copy: the caller's dict may change, the layout must not
        for name, layout in columns.items():
            if not isinstance(name, str):
                raise InvalidInput(f"column names in a layout are strings, got {name!r}")
            if not isinstance(layout, NumericLayout | CategoricalLayout):
                raise InvalidInput(
                    f"column {name!r} has layout {type(layout).__name__}; "
                    "use NumericLayout or CategoricalLayout"
                )
        object.__setattr__(self, "columns", columns)

    @classmethod
    def infer(
        cls,
        data: pd.DataFrame | pa.Table,
        *,
        bins: int = 10,
        top_k: int = 20,
        kinds: Mapping[str, ColumnKind] | None = None,
    ) -> ProfileLayout:
        """Derive the layout of every column of the reference data.

        Numeric columns (integers, floats, decimals; datetimes as epoch seconds, durations as seconds) get
        ``bins`` quantile bins: the edges are the distinct quantiles at 1/bins, 2/bins, …, (bins-1)/bins of
        the finite non-null values, so a constant column gets one edge and an all-null column none.
        Booleans and everything else are categorical, with a vocabulary of the ``top_k`` most frequent
        values (ties broken by the value's text, so the result never depends on row order). ``kinds``
        overrides the detection per column — e.g. ``{"zip_code": "categorical"}`` for an integer code.
        """
        inferred = infer_columns(data, bins=bins, top_k=top_k, kinds=kinds)
        return cls({column.name: column.layout for column in inferred})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict that :meth:`from_dict` turns back into an equal layout."""
        columns = {name: layout.to_dict() for name, layout in self.columns.items()}
        return {**write_header("profile-layout"), "columns": columns}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProfileLayout:
        header = read_header(data, "profile-layout", "ProfileLayout")
        stored = read_mapping(header, "columns", "layout")
        return cls({name: column_layout_from_dict(name, item) for name, item in stored.items()})


@dataclass(frozen=True)
class InferredColumn:
    """A column's inferred layout, with what was read to infer it, so a profile can be built from it
    without reading the column a second time."""

    name: str
    layout: ColumnLayout
    read: np.ndarray | CategoryCounts  # float64 values (NaN = null), or the counts of each distinct value


def infer_columns(
    data: pd.DataFrame | pa.Table,
    *,
    bins: int = 10,
    top_k: int = 20,
    kinds: Mapping[str, ColumnKind] | None = None,
) -> Iterator[InferredColumn]:
    """Infer each column's layout in turn (see :meth:`ProfileLayout.infer`)."""
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise InvalidInput(f"bins must be a positive integer, got {bins!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise InvalidInput(f"top_k must be a positive integer, got {top_k!r}")
    source = ColumnSource(data)
    source.require_text_names()
    kinds = dict(kinds or {})
    unknown = [name for name in kinds if name not in source.names]
    if unknown:
        raise InvalidInput(
            f"kinds names column(s) {describe_names(unknown)} that the data does not have; "
            f"its columns are {describe_names(source.names)}"
        )
    invalid = {name: kind for name, kind in kinds.items() if kind not in _KINDS}
    if invalid:
        raise InvalidInput(f"kinds must be 'numeric' or 'categorical', got {invalid!r}")
    for name in source.names:
        series = source.series(name)
        kind = kinds.get(name) or detect_kind(series)
        try:
            if kind == "numeric":
                values = numeric_values(name, series)
                yield InferredColumn(name, NumericLayout(_quantile_edges(values, bins)), values)
            else:
                counted = count_categories(series)
                yield InferredColumn(name, CategoricalLayout(_top_values(name, counted, top_k)), counted)
        except InvalidInput as error:
            message = str(error)
            raise InvalidInput(message if repr(name) in message else f"column {name!r}: {message}") from error


def column_layout_from_dict(name: str, data: object) -> ColumnLayout:
    what = f"layout of column {name!r}"
    kind = read_field(data, "kind", what)
    try:
        if kind == "numeric":
            return NumericLayout(tuple(read_list(data, "edges", what)))
        if kind == "categorical":
            return CategoricalLayout(tuple(read_list(data, "vocabulary", what)))
    except InvalidInput as error:
        raise InvalidInput(f"{what}: {error}") from error
    raise InvalidInput(f"{what} has kind {kind!r}; expected 'numeric' or 'categorical'")


def _quantile_edges(values: np.ndarray, bins: int) -> tuple[float, ...]:
    finite = values[np.isfinite(values)]
    if finite.size == 0 or bins == 1:
        return ()
    # Sorting first is the faster road to several quantiles (numpy's sort is vectorised, its selection is
    # not). Interpolating between values near the float limit overflows; scaling by a power of two is exact.
    finite.sort()
    largest = max(-float(finite[0]), float(finite[-1]))
    scale = 1.0 if largest < _LARGEST_UNSCALED else power_of_two_scale(largest)
    quantiles = np.quantile(finite / scale if scale != 1.0 else finite, np.arange(1, bins) / bins) * scale
    return tuple(np.unique(quantiles).tolist())


def _top_values(name: str, counted: CategoryCounts, top_k: int) -> tuple[Any, ...]:
    """The ``top_k`` most frequent values, by count descending then by the value's text."""
    groups = counted.groups
    unstorable = [group for group in groups if group.family == "other"]
    if unstorable:
        sample = unstorable[0].values[0]
        raise InvalidInput(
            f"column {name!r} holds {type(sample).__name__} values such as {sample!r}, which a categorical "
            f"profile cannot store (only str, int, float and bool); convert the column first, e.g. "
            f"df[{name!r}].astype(str), or profile it as numeric with kinds={{{name!r}: 'numeric'}}"
        )
    candidates = [_storable(group) for group in groups]

    def text(value: object) -> str:
        return str(json_scalar(value))

    values = np.concatenate([group.values.astype(object) for group in candidates] or [np.empty(0, object)])
    counts = np.concatenate([group.counts for group in candidates] or [np.empty(0, np.int64)])
    if counts.size > top_k:
        # Only the values that can make the cut are sorted in Python: those above the k-th largest count
        # and, of those tied with it, the ones whose text sorts first.
        threshold = np.partition(counts, counts.size - top_k)[counts.size - top_k]
        above = np.flatnonzero(counts > threshold).tolist()
        tied = np.flatnonzero(counts == threshold).tolist()
        tied = heapq.nsmallest(top_k - len(above), tied, key=lambda position: text(values[position]))
        chosen = above + tied
    else:
        chosen = list(range(counts.size))
    chosen.sort(key=lambda position: (-counts[position], text(values[position])))
    return tuple(json_scalar(values[position]) for position in chosen)


def _storable(group: CategoryGroup) -> CategoryGroup:
    """The group without infinities, which JSON cannot store; they will count as "other"."""
    if group.family != "number":
        return group
    if group.values.dtype.kind == "f":
        finite = np.isfinite(group.values)
    else:  # Python numbers in an object column; ints of any size are finite
        finite = np.array([not isinstance(value, float) or math.isfinite(value) for value in group.values])
    if finite.all():
        return group
    return CategoryGroup(group.family, group.values[finite], group.counts[finite])
