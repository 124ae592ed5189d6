"""Reading and writing the JSON-able dicts that layouts and profiles are stored as.

Profiles are stored with a model version and read back months later, possibly after a hand edit or by a
newer shipyard. Readers are therefore strict and say which field is wrong. JSON has no NaN or infinity:
NaN never occurs in a profile (missing statistics are None), and the infinities a minimum or maximum can
hold are written as the strings "inf" and "-inf".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from shipyard.errors import InvalidInput

FORMAT_VERSION = 1
_INFINITIES = {"inf": math.inf, "-inf": -math.inf}


def encode_float(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return "inf" if value > 0 else "-inf"


def decode_float(value: object, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, str) and value in _INFINITIES:
        return _INFINITIES[value]
    if isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value):
        return float(value)
    raise InvalidInput(f"{what} should be a number, None, 'inf' or '-inf', got {value!r}")


def read_header(data: object, kind: str, owner: str) -> Mapping[str, Any]:
    """Check that ``data`` is a ``kind`` written by ``owner.to_dict()``, in a version this code reads."""
    if not isinstance(data, Mapping):
        raise InvalidInput(f"a stored {kind} is a dict, got {type(data).__name__}")
    expected = f"shipyard.{kind}"
    if data.get("format") != expected:
        raise InvalidInput(
            f"this dict is not a stored {kind} (format {data.get('format')!r}, expected {expected!r}); "
            f"pass what {owner}.to_dict() returned"
        )
    if data.get("version") != FORMAT_VERSION:
        raise InvalidInput(
            f"stored {kind} has format version {data.get('version')!r}; this shipyard reads version "
            f"{FORMAT_VERSION} — upgrade shipyard to read it"
        )
    return data


def write_header(kind: str) -> dict[str, Any]:
    return {"format": f"shipyard.{kind}", "version": FORMAT_VERSION}


def read_field(data: object, key: str, what: str) -> Any:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{what} should be a dict, got {type(data).__name__}")
    if key not in data:
        raise InvalidInput(f"{what} has no {key!r} field; was it written by to_dict()?")
    return data[key]


def read_mapping(data: object, key: str, what: str) -> Mapping[str, Any]:
    value = read_field(data, key, what)
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what}.{key} should be a dict, got {type(value).__name__}")
    return value


def read_list(data: object, key: str, what: str) -> list[Any]:
    value = read_field(data, key, what)
    if not isinstance(value, list | tuple):
        raise InvalidInput(f"{what}.{key} should be a list, got {type(value).__name__}")
    return list(value)
