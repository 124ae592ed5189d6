"""Which kind of Python value sits in each cell of an ``object`` column, found for the whole column at once.

JSON payloads, CSV files read without types and hand-built frames arrive as ``object`` columns whose cells
may hold text, numbers, booleans or timestamps side by side. Validation and inference both need to know
which rows hold which kind. pandas' ``infer_dtype`` answers the common uniform case in one pass; only a
genuinely mixed column pays for classifying each cell, and even then the work is one ``type()`` call per
cell plus a lookup per distinct type, never a Python-level loop over rows.
"""

from __future__ import annotations

import datetime as dt
import numbers

import numpy as np
import pandas as pd

NULL, TEXT, NUMBER, BOOLEAN, DATETIME, OTHER = range(6)
#: Human names of the kinds, as used in messages ("column 'age' holds text in rows …").
KIND_NAMES = ("null", "text", "number", "boolean", "datetime", "other")

# infer_dtype's verdicts that mean "every non-null cell is of one kind".
_UNIFORM = {
    "string": TEXT,
    "integer": NUMBER,
    "floating": NUMBER,
    "mixed-integer-float": NUMBER,
    "boolean": BOOLEAN,
    "datetime": DATETIME,
    "datetime64": DATETIME,
}
_type_of = np.frompyfunc(type, 1, 1)


def _kind_of_type(kind: type) -> int:
    if issubclass(kind, bool | np.bool_):
        return BOOLEAN
    if issubclass(kind, str):
        return TEXT
    if issubclass(kind, numbers.Real):  # int, float and numpy's integer/floating types
        return NUMBER
    if issubclass(kind, dt.datetime | np.datetime64):  # pandas Timestamp is a datetime
        return DATETIME
    return OTHER


def value_kinds(values: np.ndarray, nulls: np.ndarray) -> np.ndarray:
    """One kind code (NULL, TEXT, NUMBER, BOOLEAN, DATETIME, OTHER) per cell of an object array."""
    verdict = pd.api.types.infer_dtype(values, skipna=True)
    if verdict in _UNIFORM:
        kinds = np.full(len(values), _UNIFORM[verdict], dtype=np.int8)
    else:
        types = _type_of(values)
        distinct = pd.Index(pd.unique(types))
        codes = np.array([_kind_of_type(kind) for kind in distinct], dtype=np.int8)
        kinds = codes[distinct.get_indexer(types)]
    kinds[nulls] = NULL
    return kinds
