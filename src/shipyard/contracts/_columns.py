"""What the contract says about one column, and the invariants every column description must keep.

A ``ColumnContract`` is built three ways: inferred from training data, read back from a stored or edited
YAML/JSON document, or written by hand in Python. All three end in the same constructor, so the checks
here (bounds only where they mean something, minimum <= maximum, ``closed`` only with a category list)
hold for every contract the validator will ever see, and each error names the column and the field.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput

ColumnType = Literal["integer", "float", "boolean", "category", "string", "datetime"]
#: What to do with input columns the contract does not name.
ExtraColumns = Literal["drop", "keep", "reject"]

COLUMN_TYPES: tuple[str, ...] = get_args(ColumnType)
EXTRA_COLUMN_POLICIES: tuple[str, ...] = get_args(ExtraColumns)
#: Types whose values are ordered, so ``minimum``/``maximum`` and observed ranges apply to them.
ORDERED_TYPES = frozenset({"integer", "float", "datetime"})
#: Types that may carry a list of observed values (``categories``) and so may be ``closed``.
CATEGORICAL_TYPES = frozenset({"category", "boolean", "integer"})


def short(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, so an error never echoes a whole payload."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_number(value: object) -> bool:
    """True for ints and floats (numpy's included), False for bools, which are not numbers here."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


@dataclass(frozen=True)
class ColumnContract:
    """The rules for one input column.

    ``nullable`` and the ``observed_*`` values come from the training data; ``minimum``, ``maximum`` and
    ``closed`` are enforced and stay unset until a user tightens them. ``categories`` lists the values seen
    in training when there were few of them; they are only enforced when ``closed`` is true. ``timezone``
    applies to datetime columns: None means naive timestamps, a zone name means tz-aware ones, which the
    validator converts to that zone. Numbers are kept as ``int`` for integer columns and ``float`` for float
    columns; datetime bounds are ISO-8601 strings.
    """

    name: str
    type: ColumnType
    nullable: bool
    required: bool = True
    observed_min: float | str | None = None
    observed_max: float | str | None = None
    minimum: float | str | None = None
    maximum: float | str | None = None
    categories: tuple[Any, ...] | None = None
    closed: bool = False
    description: str = ""
    timezone: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInput(f"a contract column needs a non-empty string name, got {short(self.name)}")
        if self.type not in COLUMN_TYPES:
            raise self._error("type", f"{short(self.type)} is not a column type; use one of {COLUMN_TYPES}")
        for field in ("nullable", "required", "closed"):
            if not isinstance(getattr(self, field), bool):
                raise self._error(field, f"must be true or false, got {short(getattr(self, field))}")
        if not isinstance(self.description, str):
            raise self._error("description", f"must be text, got {short(self.description)}")
        self._check_timezone()
        for low_field, high_field in (("observed_min", "observed_max"), ("minimum", "maximum")):
            low = self._normalise_bound(low_field)
            high = self._normalise_bound(high_field)
            if low is not None and high is not None and _ordering_key(low) > _ordering_key(high):
                raise self._error(
                    low_field,
                    f"{short(low)} is greater than {high_field} {short(high)}; swap or correct them",
                )
        self._check_categories()

    def _error(self, field: str, what: str) -> InvalidInput:
        return InvalidInput(f"contract column {self.name!r}, field {field!r}: {what}")

    def _check_timezone(self) -> None:
        if self.timezone is None:
            return
        if self.type != "datetime":
            raise self._error("timezone", f"only datetime columns have a timezone, this one is {self.type}")
        try:
            pd.Timestamp("2000-01-01", tz=self.timezone)
        except Exception as error:
            raise self._error(
                "timezone", f"{short(self.timezone)} is not a time zone name (e.g. 'UTC', 'Europe/Paris')"
            ) from error

    def _normalise_bound(self, field: str) -> float | str | None:
        """Check one bound against the column type and store it in its canonical form."""
        value = getattr(self, field)
        if value is None:
            return None
        if self.type not in ORDERED_TYPES:
            raise self._error(field, f"{self.type} columns have no order, so they take no {field}; remove it")
        if self.type == "datetime":
            canonical: float | str = _iso_timestamp(value, lambda what: self._error(field, what))
        elif not is_number(value):
            raise self._error(field, f"must be a number for a {self.type} column, got {short(value)}")
        elif not math.isfinite(float(value)):
            raise self._error(field, f"must be a finite number, got {value!r}")
        elif self.type == "integer":
            if not _is_whole(value):
                raise self._error(field, f"must be a whole number for an integer column, got {value!r}")
            canonical = int(value)
        else:
            canonical = float(value)
        object.__setattr__(self, field, canonical)
        return canonical

    def _check_categories(self) -> None:
        categories = self.categories
        if categories is None:
            if self.closed:
                raise self._error("closed", "a closed column needs a 'categories' list of the allowed values")
            return
        if self.type not in CATEGORICAL_TYPES:
            raise self._error("categories", f"{self.type} columns take no categories; remove them")
        if isinstance(categories, str | bytes) or not isinstance(categories, list | tuple):
            raise self._error("categories", f"must be a list of values, got {short(categories)}")
        values = tuple(_plain(value) for value in categories)
        expected = {"boolean": "true/false values", "integer": "whole numbers", "category": "text or numbers"}
        if self.type == "boolean":
            fits = all(isinstance(value, bool) for value in values)
        elif self.type == "integer":
            fits = all(is_number(value) and _is_whole(value) for value in values)
            values = tuple(int(cast(Any, value)) for value in values) if fits else values
        else:
            fits = all(isinstance(value, str) for value in values) or all(
                is_number(value) for value in values
            )
        if not fits:
            raise self._error(
                "categories",
                f"must all be {expected[self.type]} for a {self.type} column, got {short(values)}",
            )
        if any(isinstance(value, float) and not math.isfinite(value) for value in values):
            raise self._error(
                "categories", "must not contain NaN or infinity; nulls are governed by 'nullable'"
            )
        if len(set(values)) != len(values):
            raise self._error("categories", "lists a value twice; keep each value once")
        object.__setattr__(self, "categories", values)

    @property
    def numeric_categories(self) -> bool:
        """True when the categories are numbers, so numeric input is compared as numbers."""
        return bool(self.categories) and all(is_number(value) for value in self.categories or ())


def _is_whole(value: Any) -> bool:
    """True for integers and for floats without a fractional part (exact, even beyond 2**53)."""
    if isinstance(value, int | np.integer):
        return True
    return math.isfinite(float(value)) and float(value).is_integer()


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def _iso_timestamp(value: object, error: Any) -> str:
    """A datetime bound as an ISO-8601 string (YAML hands dates over as ``date``/``datetime`` objects)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if isinstance(value, dt.datetime | np.datetime64):
        return pd.Timestamp(value).isoformat()
    if not isinstance(value, str):
        raise error(f"must be an ISO-8601 date or time such as '2024-01-31T12:00:00', got {short(value)}")
    try:
        pd.Timestamp(value)
    except (ValueError, TypeError) as parse_error:
        raise error(
            f"{short(value)} is not an ISO-8601 date or time such as '2024-01-31T12:00:00'"
        ) from parse_error
    return value


def _ordering_key(value: float | str) -> float | pd.Timestamp:
    if isinstance(value, str):
        return utc_naive(pd.Timestamp(value))
    return value


def utc_naive(stamp: pd.Timestamp) -> pd.Timestamp:
    """``stamp`` in UTC without its zone; naive stamps are taken to be UTC already."""
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp
