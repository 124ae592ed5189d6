"""``Contract``: the schema of a model's input, as one immutable value.

A contract is inferred from the training data, stored with the model version as a dict, edited by people
as YAML, and enforced by ``validate``. This class ties those together; the work lives in the modules it
calls (inference, serialisation, validation), so each can be read on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
import pyarrow as pa

from shipyard.contracts import _serialisation
from shipyard.contracts._columns import EXTRA_COLUMN_POLICIES, ColumnContract, ExtraColumns, short
from shipyard.contracts._inference import infer_columns
from shipyard.contracts._validation import ValidationResult, validate
from shipyard.errors import InvalidInput, not_found


@dataclass(frozen=True)
class Contract:
    """The columns a model's input must have, and what each must hold.

    ``extra_columns`` says what happens to input columns the contract does not name: "drop" them from the
    validated rows (the default), "keep" them (unchecked, after the contract's columns), or "reject" the
    input. ``version`` is the format version of the serialised contract, not a model version.
    """

    columns: tuple[ColumnContract, ...]
    extra_columns: ExtraColumns = "drop"
    version: int = _serialisation.FORMAT_VERSION

    def __post_init__(self) -> None:
        if isinstance(self.columns, ColumnContract) or not isinstance(self.columns, list | tuple):
            raise InvalidInput(
                f"a contract's columns must be a sequence of ColumnContract, got {short(self.columns)}"
            )
        object.__setattr__(self, "columns", tuple(self.columns))
        seen: set[str] = set()
        for column in self.columns:
            if not isinstance(column, ColumnContract):
                raise InvalidInput(
                    f"a contract's columns must be ColumnContract objects, got {short(column)}"
                )
            if column.name in seen:
                raise InvalidInput(f"the contract names column {column.name!r} twice; keep one of them")
            seen.add(column.name)
        if self.extra_columns not in EXTRA_COLUMN_POLICIES:
            raise InvalidInput(
                f"contract field 'extra_columns' must be one of {', '.join(EXTRA_COLUMN_POLICIES)}, "
                f"got {short(self.extra_columns)}"
            )
        if self.version != _serialisation.FORMAT_VERSION:
            raise InvalidInput(
                f"contract format version {short(self.version)} is not one this shipyard reads "
                f"({_serialisation.FORMAT_VERSION})"
            )

    @classmethod
    def infer(
        cls,
        data: pd.DataFrame | pa.Table,
        *,
        exclude: Iterable[str] = (),
        max_categories: int = 50,
        extra_columns: ExtraColumns = "drop",
    ) -> Contract:
        """The contract the training ``data`` meets: types, nullability, observed ranges and categories.

        Integer columns (nullable ones too) become "integer"; float columns "float", even when every value
        is whole; booleans "boolean"; timestamps "datetime" (keeping their zone); text, object and
        Categorical columns "category" when they hold at most ``max_categories`` distinct values, else
        "string" (a column mixing text and numbers is "string": see ``find_mixed_types``). Nothing beyond
        type and nullability is enforced until a user sets ``minimum``/``maximum`` or ``closed``.
        Raises InvalidInput for an empty table and for a column that is entirely null (exclude it).
        Infinite floats are never valid input, so the training rows holding them would fail validation.
        """
        columns = infer_columns(data, exclude=exclude, max_categories=max_categories)
        return cls(columns, extra_columns=extra_columns)

    @property
    def names(self) -> list[str]:
        """The column names, in contract order."""
        return [column.name for column in self.columns]

    def column(self, name: str) -> ColumnContract:
        """The contract of column ``name``; NotFound (naming close matches) when there is no such column."""
        for column in self.columns:
            if column.name == name:
                return column
        raise not_found(
            "column", str(name), within="the contract", candidates=self.names, list_command="contract.names"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict: what the registry stores with a model version."""
        return _serialisation.contract_to_dict(self.columns, self.extra_columns, self.version)

    @classmethod
    def from_dict(cls, data: Any) -> Contract:
        """The contract from its dict form; InvalidInput naming the column and field of anything wrong."""
        return cls(**_serialisation.contract_fields(data))

    def to_yaml(self) -> str:
        """YAML for people to read and edit: one block per column, keys in a fixed order."""
        return _serialisation.dump_yaml(self.to_dict())

    @classmethod
    def from_yaml(cls, text: str) -> Contract:
        return cls.from_dict(_serialisation.load_yaml(text))

    def to_json(self) -> str:
        return _serialisation.dump_json(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Contract:
        return cls.from_dict(_serialisation.load_json(text))

    def validate(
        self,
        data: pd.DataFrame | pa.Table | list[dict[str, Any]] | dict[str, list[Any]],
        *,
        mode: Literal["reject", "split"] = "reject",
        text_input: bool = False,
        max_problems: int | None = None,
    ) -> ValidationResult:
        """Check ``data`` against the contract, row by row and field by field.

        mode "reject" raises ``ContractViolation`` (an InvalidInput) when any row breaks the contract;
        mode "split" returns the good rows and the bad rows with reasons, and only raises for input that is
        not a table at all. ``text_input=True`` marks untyped text (CSV): numeric, "true"/"false"/"1"/"0"
        and ISO-8601 strings are then read as numbers, booleans and timestamps, and numbers are read as
        text in category and string columns. ``max_problems`` caps how many problems are listed (rows are
        still split correctly); use it where the input is untrusted.

        The valid rows come back in the contract's dtypes: float64; int64 (Int64 when the column is
        nullable); bool (boolean when nullable); datetime64, converted to the contract's zone when it has
        one; category and string columns as given (numbers as text, or numeric text as numbers, when
        text_input coerced them). An optional column the input lacks comes back all null.
        """
        return validate(self, data, mode=mode, text_input=text_input, max_problems=max_problems)
