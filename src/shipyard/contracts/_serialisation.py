"""The contract as a JSON-able dict, YAML and JSON text, and the strict reading of all three.

The dict is what the registry stores with each model version; YAML is what users read and edit. Keys come
in a fixed order (identity, then the rules a user edits, then what was observed in training), lists of
values are written on one line, and each column is one block, so a diff of two contracts reads well.
Reading is strict: an unknown key is far more often a typo ("maxium") than an intention, so it is an
error naming the column and the field rather than something silently ignored.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

import yaml

from shipyard.contracts._columns import ORDERED_TYPES, ColumnContract, short
from shipyard.errors import InvalidInput

FORMAT_VERSION = 1
_CONTRACT_KEYS = ("version", "extra_columns", "columns")
_COLUMN_KEYS = (
    "name",
    "type",
    "description",
    "nullable",
    "required",
    "minimum",
    "maximum",
    "closed",
    "categories",
    "observed_min",
    "observed_max",
    "timezone",
)
_REQUIRED_COLUMN_KEYS = ("name", "type", "nullable")


def column_to_dict(column: ColumnContract) -> dict[str, Any]:
    """The column's fields in a fixed order, leaving out those that cannot apply to its type.

    Bounds appear (null until a user sets them) on ordered types, ``closed`` and ``categories`` where there
    are categories, ``timezone`` on datetime columns and ``description`` once written, so the YAML shows
    every knob that means something for the column and nothing else.
    """
    data = {key: getattr(column, key) for key in _COLUMN_KEYS}
    if column.categories is not None:
        data["categories"] = list(column.categories)
    omitted = set() if column.description else {"description"}
    if column.type not in ORDERED_TYPES:
        omitted |= {"minimum", "maximum", "observed_min", "observed_max"}
    if column.categories is None and not column.closed and column.type != "category":
        omitted |= {"closed", "categories"}
    if column.type != "datetime":
        omitted.add("timezone")
    return {key: value for key, value in data.items() if key not in omitted}


def contract_to_dict(columns: tuple[ColumnContract, ...], extra_columns: str, version: int) -> dict[str, Any]:
    return {
        "version": version,
        "extra_columns": extra_columns,
        "columns": [column_to_dict(column) for column in columns],
    }


def contract_fields(data: object) -> dict[str, Any]:
    """The keyword arguments of ``Contract`` from its dict form, checked strictly."""
    if not isinstance(data, Mapping):
        raise InvalidInput(f"a contract must be a mapping with a 'columns' list, got a {type(data).__name__}")
    _refuse_unknown(data, _CONTRACT_KEYS, "the contract")
    version = data.get("version", FORMAT_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidInput(f"contract field 'version' must be a whole number >= 1, got {short(version)}")
    if version > FORMAT_VERSION:
        raise InvalidInput(
            f"the contract has format version {version}, newer than this shipyard reads ({FORMAT_VERSION}); "
            f"upgrade shipyard"
        )
    if "columns" not in data:
        raise InvalidInput("the contract has no 'columns' list; add one mapping per input column")
    columns = data["columns"]
    if not isinstance(columns, list | tuple):
        raise InvalidInput(
            f"contract field 'columns' must be a list of column mappings, got {short(columns)}"
        )
    fields: dict[str, Any] = {
        "columns": tuple(_column_from_dict(item, position) for position, item in enumerate(columns)),
        "version": version,
    }
    if "extra_columns" in data:
        fields["extra_columns"] = data["extra_columns"]
    return fields


def _column_from_dict(data: object, position: int) -> ColumnContract:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"contract column #{position + 1} must be a mapping of fields, got {short(data)}")
    label = (
        f"contract column {data['name']!r}"
        if isinstance(data.get("name"), str)
        else (f"contract column #{position + 1}")
    )
    _refuse_unknown(data, _COLUMN_KEYS, label)
    for key in _REQUIRED_COLUMN_KEYS:
        if key not in data:
            raise InvalidInput(
                f"{label} has no {key!r} field; every column needs {', '.join(_REQUIRED_COLUMN_KEYS)}"
            )
    values = dict(data)
    if isinstance(values.get("categories"), list):
        values["categories"] = tuple(values["categories"])
    return ColumnContract(**values)


def _refuse_unknown(data: Mapping[Any, Any], known: tuple[str, ...], where: str) -> None:
    unknown = [key for key in data if key not in known]
    if not unknown:
        return
    key = unknown[0]
    close = difflib.get_close_matches(str(key), known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known fields: {', '.join(known)}"
    raise InvalidInput(f"{where} has an unknown field {short(key)}; {hint}")


# --- text ----------------------------------------------------------------------------------------------


class _ContractDumper(yaml.SafeDumper):
    """YAML with block mappings, one-line lists of plain values, and indented sequences."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> Any:
    flat = all(not isinstance(item, list | tuple | dict) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> Any:
    # YAML reads these as line breaks; only a double-quoted (escaped) scalar keeps them as written.
    quoted = any(character in data for character in "\x85\u2028\u2029")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"' if quoted else None)


_ContractDumper.add_representer(str, _represent_str)
_ContractDumper.add_representer(list, _represent_list)
_ContractDumper.add_representer(tuple, _represent_list)


_YAML_HEADER = (
    "# shipyard data contract. Enforced: type, nullable, required, minimum/maximum, and categories when\n"
    "# closed is true. observed_* record the training data. Unnamed input columns: extra_columns.\n"
)


def dump_yaml(data: dict[str, Any]) -> str:
    body = yaml.dump(data, Dumper=_ContractDumper, sort_keys=False, allow_unicode=True, width=110)
    return _YAML_HEADER + body


def load_yaml(text: str) -> object:
    if not isinstance(text, str):
        raise InvalidInput(f"contract YAML must be text, got a {type(text).__name__}")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise InvalidInput(f"the contract YAML is malformed{where}: {problem}; fix it there") from error
    if data is None:
        raise InvalidInput("the contract YAML is empty; it needs a 'columns' list")
    return data


def dump_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)


def load_json(text: str) -> object:
    if not isinstance(text, str | bytes):
        raise InvalidInput(f"contract JSON must be text, got a {type(text).__name__}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"the contract JSON is malformed at line {error.lineno}, column {error.colno}: {error.msg}; "
            f"fix it there"
        ) from error
