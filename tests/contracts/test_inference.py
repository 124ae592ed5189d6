"""Contract.infer reads types, nullability, ranges and categories from training data; find_mixed_types."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from shipyard.contracts import ColumnContract, Contract, find_mixed_types
from shipyard.errors import InvalidInput, NotFound


def test_infers_every_column_type() -> None:
    frame = pd.DataFrame(
        {
            "count": [1, 2, 3],
            "price": [1.5, 2.5, 3.5],
            "flag": [True, False, True],
            "when": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
            "colour": ["red", "blue", "red"],
            "label": pd.Categorical(["x", "y", "x"]),
        }
    )
    contract = Contract.infer(frame)
    assert {column.name: column.type for column in contract.columns} == {
        "count": "integer",
        "price": "float",
        "flag": "boolean",
        "when": "datetime",
        "colour": "category",
        "label": "category",
    }
    assert contract.names == ["count", "price", "flag", "when", "colour", "label"]


def test_nullable_integer_stays_integer_and_is_nullable() -> None:
    contract = Contract.infer(pd.DataFrame({"n": pd.array([1, None, 3], dtype="Int64"), "m": [1, 2, 3]}))
    assert contract.column("n") == ColumnContract(
        "n", "integer", True, observed_min=1, observed_max=3, categories=(1, 3)
    )
    assert contract.column("m").nullable is False


def test_whole_floats_stay_float() -> None:
    column = Contract.infer(pd.DataFrame({"x": [1.0, 2.0, np.nan]})).column("x")
    assert (column.type, column.nullable, column.observed_min, column.observed_max) == (
        "float",
        True,
        1.0,
        2.0,
    )


def test_text_is_category_or_string_by_cardinality() -> None:
    frame = pd.DataFrame({"few": ["a", "b", "c", "a"], "many": ["w", "x", "y", "z"]})
    contract = Contract.infer(frame, max_categories=3)
    assert contract.column("few").type == "category"
    assert contract.column("few").categories == ("a", "b", "c")
    assert contract.column("many").type == "string"
    assert contract.column("many").categories is None


def test_categorical_records_only_the_categories_that_occur() -> None:
    frame = pd.DataFrame({"size": pd.Categorical(["s", "m", None], categories=["s", "m", "l"])})
    column = Contract.infer(frame).column("size")
    assert (column.type, column.nullable, column.categories) == ("category", True, ("m", "s"))


def test_object_column_of_few_numbers_is_a_numeric_category() -> None:
    column = Contract.infer(pd.DataFrame({"zone": pd.Series([10, 20, None, 10], dtype=object)})).column(
        "zone"
    )
    assert (column.type, column.categories, column.nullable) == ("category", (10, 20), True)


def test_observed_ranges_are_informational_and_bounds_stay_unset() -> None:
    column = Contract.infer(pd.DataFrame({"x": [-2.5, 0.0, 7.25]})).column("x")
    assert (column.observed_min, column.observed_max) == (-2.5, 7.25)
    assert column.minimum is None and column.maximum is None and column.closed is False


def test_datetime_keeps_its_zone_and_iso_range() -> None:
    stamps = pd.to_datetime(["2024-03-01 10:00", "2024-03-02 11:00"]).tz_localize("Europe/Paris")
    column = Contract.infer(pd.DataFrame({"at": stamps})).column("at")
    assert column.timezone == "Europe/Paris"
    assert column.observed_min == "2024-03-01T10:00:00+01:00"
    assert column.observed_max == "2024-03-02T11:00:00+01:00"
    naive = Contract.infer(pd.DataFrame({"at": stamps.tz_localize(None)})).column("at")
    assert naive.timezone is None and naive.observed_min == "2024-03-01T10:00:00"


def test_exclude_leaves_columns_out() -> None:
    frame = pd.DataFrame({"a": [1, 2], "target": [0, 1], "empty": [None, None]})
    assert Contract.infer(frame, exclude=["target", "empty"]).names == ["a"]


def test_excluding_an_unknown_column_names_it() -> None:
    with pytest.raises(NotFound, match="'targte'.*did you mean 'target'"):
        Contract.infer(pd.DataFrame({"a": [1], "target": [0]}), exclude=["targte"])


def test_empty_table_cannot_be_inferred() -> None:
    with pytest.raises(InvalidInput, match="empty table"):
        Contract.infer(pd.DataFrame({"a": pd.Series([], dtype=float)}))


def test_all_null_column_is_an_error_naming_it() -> None:
    with pytest.raises(InvalidInput, match=r"column 'notes' is entirely null.*exclude"):
        Contract.infer(pd.DataFrame({"a": [1, 2], "notes": [None, None]}))


def test_infers_from_a_pyarrow_table_keeping_nullable_integers() -> None:
    table = pa.table(
        {
            "n": pa.array([1, None, 3], pa.int32()),
            "ok": pa.array([True, None, False]),
            "name": pa.array(["a", "b", None]),
            "kind": pa.array(["x", "y", "x"]).dictionary_encode(),
            "at": pa.array([0, 1, 2], pa.timestamp("us", tz="UTC")),
        }
    )
    contract = Contract.infer(table)
    assert [(c.name, c.type, c.nullable) for c in contract.columns] == [
        ("n", "integer", True),
        ("ok", "boolean", True),
        ("name", "category", True),
        ("kind", "category", False),
        ("at", "datetime", False),
    ]
    assert contract.column("at").timezone == "UTC"


def test_mixed_object_column_is_string() -> None:
    column = Contract.infer(pd.DataFrame({"age": pd.Series([1, "two", 3], dtype=object)})).column("age")
    assert column.type == "string"


def test_unknown_column_lookup_suggests_close_names() -> None:
    contract = Contract.infer(pd.DataFrame({"income": [1.0], "age": [2]}))
    with pytest.raises(NotFound, match="'incme'.*did you mean 'income'"):
        contract.column("incme")


def test_find_mixed_types_reports_rows_that_differ_from_the_majority() -> None:
    frame = pd.DataFrame(
        {
            "age": pd.Series([31, 42, "n/a", 27, None, "unknown", 55.5], dtype=object),
            "city": pd.Series(["Oslo", "Rome", 3, "Lima", "Pune", "Kyiv", "Baku"], dtype=object),
            "clean": ["a", "b", "c", "d", "e", "f", "g"],
            "number": [1, 2, 3, 4, 5, 6, 7],
        }
    )
    assert find_mixed_types(frame) == {"age": [2, 5], "city": [2]}


def test_find_mixed_types_treats_ints_and_floats_as_one_kind() -> None:
    assert find_mixed_types(pd.DataFrame({"x": pd.Series([1, 2.5, None], dtype=object)})) == {}
