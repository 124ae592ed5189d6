"""Profiles: the mergeable summary of a dataset, stored with a model version as a JSON-able dict.

At registration the training data is profiled once; monitoring later profiles each window of production
data *with the reference's layout* and compares the two distributions, without keeping training rows.
Profiles of the same layout merge by adding, so windows can be profiled in chunks, in parallel or
incrementally, and combined afterwards into exactly the profile of all their rows.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Unpack

import numpy as np
import pandas as pd
import pyarrow as pa

from shipyard.errors import InvalidInput, not_found
from shipyard.stats._columns import (
    CategoryCounts,
    ColumnSource,
    describe_names,
)
from shipyard.stats._serialisation import read_field, read_header, read_mapping, write_header
from shipyard.stats.layout import (
    CategoricalLayout,
    ColumnLayout,
    InferOptions,
    NumericLayout,
    ProfileLayout,
    infer_columns,
)
from shipyard.stats.sketches import CategoricalSketch, ColumnSketch, NumericSketch

_DIFFERENT_LAYOUTS = (
    "profiles built with different layouts cannot be merged; build both with the reference layout"
)


@dataclass(frozen=True)
class Profile:
    """Sketches of every column of a layout, and the number of rows they summarise.

    Every column accounts for every row: ``count + null_count == rows`` for each sketch.
    """

    layout: ProfileLayout
    columns: dict[str, ColumnSketch]
    rows: int

    def __post_init__(self) -> None:
        columns = dict(self.columns)
        if list(columns) != list(self.layout.columns):
            raise InvalidInput(
                f"a profile has one sketch per layout column, in layout order: expected "
                f"{describe_names(list(self.layout.columns))}, got {describe_names(list(columns))}"
            )
        if isinstance(self.rows, bool) or not isinstance(self.rows, int) or self.rows < 0:
            raise InvalidInput(f"rows must be a non-negative integer, got {self.rows!r}")
        for name, sketch in columns.items():
            if not _fits(sketch, self.layout.columns[name]):
                raise InvalidInput(
                    f"the sketch of column {name!r} was not counted into its layout; build it with the layout"
                )
            if sketch.count + sketch.null_count != self.rows:
                raise InvalidInput(
                    f"column {name!r} accounts for {sketch.count + sketch.null_count} rows (values and "
                    f"nulls) but the profile has {self.rows}"
                )
        object.__setattr__(self, "columns", columns)

    @classmethod
    def build(
        cls,
        data: pd.DataFrame | pa.Table,
        layout: ProfileLayout | None = None,
        **infer_options: Unpack[InferOptions],
    ) -> Profile:
        """Profile ``data``, counting into ``layout`` — or into a layout inferred from ``data`` itself.

        Pass the reference's layout when profiling anything that will be compared with the reference.
        Every column of the layout must be in ``data``; other columns are ignored. ``infer_options``
        (``bins``, ``top_k``, ``kinds``) go to :meth:`ProfileLayout.infer` when no layout is given.
        """
        source = ColumnSource(data)
        if layout is None:
            # Registration's path: infer and count in one read of each column.
            layouts: dict[str, ColumnLayout] = {}
            sketches: dict[str, ColumnSketch] = {}
            for column in infer_columns(data, **infer_options):
                layouts[column.name] = column.layout
                sketches[column.name] = _sketch(column.layout, column.read)
            return cls(ProfileLayout(layouts), sketches, source.rows)
        if infer_options:
            raise InvalidInput(
                f"{', '.join(sorted(infer_options))} only apply when Profile.build infers the layout; "
                "drop them, or drop the layout"
            )
        present = set(source.names)
        missing = [name for name in layout.columns if name not in present]
        if missing:
            raise InvalidInput(
                f"data has no column(s) {describe_names(missing)}, which the layout profiles; pass data with "
                "every column the reference had (extra columns are ignored)"
            )
        columns: dict[str, ColumnSketch] = {}
        for name, column_layout in layout.columns.items():
            if isinstance(column_layout, NumericLayout):
                columns[name] = _sketch(column_layout, source.numbers(name))
            else:
                columns[name] = _sketch(column_layout, source.categories(name))
        return cls(layout, columns, source.rows)

    @classmethod
    def empty(cls, layout: ProfileLayout) -> Profile:
        """The profile of no rows: the identity of :meth:`merge`."""
        columns: dict[str, ColumnSketch] = {}
        for name, column in layout.columns.items():
            if isinstance(column, NumericLayout):
                columns[name] = NumericSketch.empty(column)
            else:
                columns[name] = CategoricalSketch.empty(column)
        return cls(layout, columns, 0)

    def merge(self, other: Profile) -> Profile:
        """The profile of both profiles' rows together; both must have been built with the same layout."""
        if not isinstance(other, Profile):
            raise InvalidInput(f"a profile merges only with a profile, not {type(other).__name__}")
        if other.layout != self.layout:
            raise InvalidInput(_DIFFERENT_LAYOUTS)
        columns = {
            name: _merge_sketches(sketch, other.columns[name]) for name, sketch in self.columns.items()
        }
        return Profile(self.layout, columns, self.rows + other.rows)

    @staticmethod
    def merge_all(profiles: Iterable[Profile]) -> Profile:
        """The profile of every given profile's rows together (at least one profile is needed)."""
        iterator = iter(profiles)
        first = next(iterator, None)
        if first is None:
            raise InvalidInput("merge_all needs at least one profile; use Profile.empty(layout) for none")
        return functools.reduce(Profile.merge, iterator, first)

    def distribution(self, column: str) -> np.ndarray:
        """Proportions of the column's non-null values per bin (outer bins included) or per category
        (vocabulary order, then "other") — what drift metrics compare. All zeros when the column has no
        non-null values, since proportions of nothing are undefined; check ``count`` to tell."""
        sketch = self.columns.get(column)
        if sketch is None:
            raise not_found("column", column, within="the profile", candidates=self.columns)
        if isinstance(sketch, NumericSketch):
            counts = np.asarray(sketch.counts, dtype=np.float64)
        else:
            counts = np.asarray((*sketch.counts, sketch.other_count), dtype=np.float64)
        return counts / sketch.count if sketch.count else counts

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (plain lists, ints, floats, strings; no NaN) that :meth:`from_dict` reads back
        into an equal profile. ``json.dumps(profile.to_dict(), allow_nan=False)`` always succeeds."""
        return {
            **write_header("profile"),
            "rows": self.rows,
            "layout": self.layout.to_dict(),
            "columns": {name: sketch.to_dict() for name, sketch in self.columns.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        header = read_header(data, "profile", "Profile")
        layout = ProfileLayout.from_dict(read_mapping(header, "layout", "profile"))
        stored = read_mapping(header, "columns", "profile")
        columns: dict[str, ColumnSketch] = {}
        for name, item in stored.items():
            column_layout = layout.columns.get(name)
            if column_layout is None:
                raise InvalidInput(f"stored profile has a sketch of column {name!r} but its layout has none")
            what = f"sketch of column {name!r}"
            try:
                if isinstance(column_layout, CategoricalLayout):
                    columns[name] = CategoricalSketch.from_dict(item, what)
                else:
                    columns[name] = NumericSketch.from_dict(item, what)
            except InvalidInput as error:
                message = str(error)
                raise InvalidInput(message if what in message else f"{what}: {message}") from error
        return cls(layout, columns, read_field(header, "rows", "profile"))


def _sketch(layout: ColumnLayout, read: np.ndarray | CategoryCounts) -> ColumnSketch:
    if isinstance(layout, NumericLayout) and isinstance(read, np.ndarray):
        return NumericSketch.from_values(read, layout)
    if isinstance(layout, CategoricalLayout) and isinstance(read, CategoryCounts):
        return CategoricalSketch.from_counts(read, layout)
    raise TypeError(f"a {type(layout).__name__} cannot count a {type(read).__name__}")  # a bug, not bad input


def _merge_sketches(mine: ColumnSketch, theirs: ColumnSketch) -> ColumnSketch:
    if isinstance(mine, NumericSketch) and isinstance(theirs, NumericSketch):
        return mine.merge(theirs)
    if isinstance(mine, CategoricalSketch) and isinstance(theirs, CategoricalSketch):
        return mine.merge(theirs)
    raise InvalidInput(_DIFFERENT_LAYOUTS)


def _fits(sketch: ColumnSketch, layout: ColumnLayout) -> bool:
    if isinstance(layout, NumericLayout):
        return isinstance(sketch, NumericSketch) and len(sketch.counts) == layout.bin_count
    return isinstance(sketch, CategoricalSketch) and len(sketch.counts) == len(layout.vocabulary)
