"""Data contracts: the schema of a model's input, inferred from training data and enforced everywhere.

A ``Contract`` is inferred from the training rows (``Contract.infer``), stored with the model version as a
JSON-able dict, edited by people as YAML, and enforced by one vectorised validator (``Contract.validate``)
that training, batch scoring and the HTTP server all call, so a row is judged the same way in each.

Part of the core layer: pure Python, numpy, pandas and pyarrow; no database, network or files.
"""

from shipyard.contracts._checks import PROBLEM_CODES
from shipyard.contracts._columns import ColumnContract, ColumnType, ExtraColumns
from shipyard.contracts._compatibility import breaking_changes
from shipyard.contracts._contract import Contract
from shipyard.contracts._examples import example_rows
from shipyard.contracts._inference import find_mixed_types
from shipyard.contracts._validation import (
    PROBLEMS_COLUMN,
    WHOLE_COLUMN,
    Problem,
    ValidationResult,
)
from shipyard.errors import ContractViolation  # one class with the server's rejections: see shipyard.errors

__all__ = [
    "PROBLEMS_COLUMN",
    "PROBLEM_CODES",
    "WHOLE_COLUMN",
    "ColumnContract",
    "ColumnType",
    "Contract",
    "ContractViolation",
    "ExtraColumns",
    "Problem",
    "ValidationResult",
    "breaking_changes",
    "example_rows",
    "find_mixed_types",
]
