"""Contracts survive YAML/JSON round trips, user edits change validation, bad documents say what is wrong."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from shipyard.contracts import ColumnContract, Contract, ContractViolation
from shipyard.errors import InvalidInput


def edit_column(text: str, column: str, old: str, new: str) -> str:
    """What a person does in an editor: change one line inside one column's block."""
    start = text.index(f"- name: {column}\n")
    assert old in text[start:]
    return text[:start] + text[start:].replace(old, new, 1)


@pytest.fixture
def training() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [25, 40, 61],
            "income": [1200.5, None, 5300.0],
            "member": [True, False, True],
            "plan": ["basic", "pro", "basic"],
            "comment": ["x", "y", "z"],
            "signed_up": pd.to_datetime(["2023-01-05", "2023-06-01", "2024-02-29"]).tz_localize("UTC"),
            "seen": pd.to_datetime(
                ["2023-01-05 10:00", "2023-06-01 12:30:15.25", "2024-02-29 00:00"], format="ISO8601"
            ),
        }
    )


def test_yaml_round_trip_gives_an_equal_contract(training: pd.DataFrame) -> None:
    contract = Contract.infer(training, max_categories=2, extra_columns="keep")
    assert Contract.from_yaml(contract.to_yaml()) == contract


def test_json_and_dict_round_trips_give_an_equal_contract(training: pd.DataFrame) -> None:
    contract = Contract.infer(training)
    assert Contract.from_json(contract.to_json()) == contract
    assert Contract.from_dict(json.loads(json.dumps(contract.to_dict()))) == contract


def test_yaml_is_one_block_per_column_in_a_stable_key_order(training: pd.DataFrame) -> None:
    text = Contract.infer(training).to_yaml()
    document = yaml.safe_load(text)
    assert list(document) == ["version", "extra_columns", "columns"]
    assert list(document["columns"][1]) == [
        "name",
        "type",
        "nullable",
        "required",
        "minimum",
        "maximum",
        "observed_min",
        "observed_max",
    ]
    assert list(document["columns"][3]) == ["name", "type", "nullable", "required", "closed", "categories"]
    assert "  - name: plan\n    type: category\n" in text
    assert "categories: [basic, pro]" in text


def test_editing_yaml_to_close_categories_and_set_a_minimum_changes_validation(
    training: pd.DataFrame,
) -> None:
    contract = Contract.infer(training)
    incoming = training.assign(plan=["basic", "enterprise", "pro"], age=[25, 17, 30])
    assert contract.validate(incoming, mode="split").ok

    text = edit_column(contract.to_yaml(), "plan", "closed: false", "closed: true")
    text = edit_column(text, "age", "minimum: null", "minimum: 18")
    edited = Contract.from_yaml(text)
    assert edited.column("age").minimum == 18
    assert edited.column("plan").closed

    with pytest.raises(ContractViolation) as raised:
        edited.validate(incoming)
    problems = raised.value.result.problems
    assert [(p.row, p.column, p.problem) for p in raised.value.problems] == [
        (1, "age", "below_minimum"),
        (1, "plan", "unknown_category"),
    ]
    assert problems[["row", "column", "problem"]].values.tolist() == [
        [1, "age", "below_minimum"],
        [1, "plan", "unknown_category"],
    ]


def test_datetime_bounds_written_unquoted_in_yaml_are_accepted(training: pd.DataFrame) -> None:
    text = edit_column(
        Contract.infer(training).to_yaml(), "signed_up", "minimum: null", "minimum: 2023-03-01"
    )
    column = Contract.from_yaml(text).column("signed_up")
    assert column.minimum == "2023-03-01T00:00:00"
    result = Contract.from_yaml(text).validate(training, mode="split")
    assert result.problems[["row", "column", "problem"]].values.tolist() == [
        [0, "signed_up", "below_minimum"]
    ]


def test_malformed_yaml_says_where() -> None:
    with pytest.raises(InvalidInput, match=r"malformed at line 3, column"):
        Contract.from_yaml("columns:\n  - name: a\n   type: [float\n")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"columns": [{"name": "a", "type": "float", "nullable": True, "maxium": 3}]},
            r"column 'a'.*unknown field 'maxium'; did you mean 'maximum'",
        ),
        (
            {"columns": [{"name": "a", "type": "float", "nullable": True, "minimum": 5, "maximum": 1}]},
            r"column 'a', field 'minimum': 5.0 is greater than maximum 1.0",
        ),
        (
            {"columns": [{"name": "a", "type": "decimal", "nullable": True}]},
            r"column 'a', field 'type': 'decimal' is not a column type",
        ),
        ({"columns": [{"name": "a", "type": "float"}]}, r"column 'a' has no 'nullable' field"),
        (
            {"columns": [{"name": "a", "type": "float", "nullable": "yes please"}]},
            r"column 'a', field 'nullable': must be true or false",
        ),
        (
            {"columns": [{"name": "a", "type": "integer", "nullable": False, "minimum": "zero"}]},
            r"column 'a', field 'minimum': must be a number",
        ),
        (
            {"columns": [{"name": "a", "type": "integer", "nullable": False, "minimum": 0.5}]},
            r"column 'a', field 'minimum': must be a whole number",
        ),
        (
            {"columns": [{"name": "a", "type": "category", "nullable": False, "minimum": 0}]},
            r"column 'a', field 'minimum': category columns have no order",
        ),
        (
            {"columns": [{"name": "a", "type": "category", "nullable": False, "closed": True}]},
            r"column 'a', field 'closed': a closed column needs a 'categories' list",
        ),
        (
            {"columns": [{"name": "a", "type": "datetime", "nullable": False, "maximum": "soon"}]},
            r"column 'a', field 'maximum': 'soon' is not an ISO-8601",
        ),
        ({"columns": [{"name": "a", "type": "float", "nullable": False}] * 2}, "names column 'a' twice"),
        ({"colums": []}, "unknown field 'colums'; did you mean 'columns'"),
        ({"columns": [], "version": 7}, "format version 7, newer than this shipyard"),
        ({"columns": [], "extra_columns": "ignore"}, "'extra_columns' must be one of drop, keep, reject"),
        (["not", "a", "mapping"], "must be a mapping"),
    ],
)
def test_bad_documents_are_refused_naming_the_field(document: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Contract.from_dict(document)


def test_malformed_json_says_where() -> None:
    with pytest.raises(InvalidInput, match=r"JSON is malformed at line 1, column"):
        Contract.from_json('{"columns": [}')


def test_hand_written_column_contracts_are_checked_too() -> None:
    with pytest.raises(InvalidInput, match="field 'minimum': 1.0 is greater than maximum 0.0"):
        ColumnContract("x", "float", False, minimum=1.0, maximum=0.0)
    assert ColumnContract("x", "integer", False, minimum=3.0).minimum == 3
