"""Every error carries its CLI exit code and its HTTP status, found along its class's MRO."""

from __future__ import annotations

import inspect
import pickle

import pytest

from shipyard import errors
from shipyard.contracts import Problem
from shipyard.errors import ContractViolation, ShipyardError

CLASSES = [
    value for value in vars(errors).values() if inspect.isclass(value) and issubclass(value, ShipyardError)
]


@pytest.mark.parametrize("error_class", CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_class_has_an_exit_code_a_status_and_a_docstring(error_class: type) -> None:
    assert isinstance(error_class.exit_code, int) and error_class.exit_code >= 1
    assert 400 <= error_class.http_status <= 599
    assert (
        error_class.__doc__ and error_class.__doc__ is not ShipyardError.__doc__
    ) or error_class is ShipyardError


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("InvalidInput", 400),
        ("ContractViolation", 422),
        ("PayloadTooLarge", 413),
        ("UnsupportedMediaType", 415),
        ("NotFound", 404),
        ("Conflict", 409),
        ("Overloaded", 503),
        ("DeadlineExceeded", 504),
        ("ModelFailed", 500),
        ("ConfigurationError", 500),
    ],
)
def test_the_status_of_each_kind_of_failure(name: str, status: int) -> None:
    assert getattr(errors, name).http_status == status


def test_the_docstring_tree_lists_every_class() -> None:
    tree = errors.__doc__ or ""
    assert [cls.__name__ for cls in CLASSES if cls.__name__ not in tree] == []


def test_a_contract_violation_keeps_its_problems_through_pickling() -> None:
    problems = [Problem(0, "amount", "null", "None"), Problem(-1, "hour", "missing_column", "")]
    error = ContractViolation("2 problems", problems)
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == "2 problems" and copy.problems == problems and copy.http_status == 422
