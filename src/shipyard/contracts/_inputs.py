"""Turn every accepted input shape into one pandas DataFrame, or say plainly why it is not tabular.

Training hands over DataFrames or Arrow tables, batch scoring Arrow record batches, and the HTTP server
JSON (a list of row objects or an object of columns). Converting them here, once, is what lets one
validator serve all three. Arrow integers and booleans become pandas' nullable dtypes, so a column with
nulls keeps its type instead of silently turning into floats or Python objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import pyarrow as pa

from shipyard.errors import InvalidInput

_ACCEPTED = (
    "a pandas DataFrame, a pyarrow Table, a list of row mappings or a mapping of column name to values"
)


def _arrow_type_to_pandas(arrow_type: pa.DataType) -> Any:
    if pa.types.is_integer(arrow_type):
        return pd.api.types.pandas_dtype(str(arrow_type).capitalize().replace("Uint", "UInt"))
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    return None


def arrow_to_frame(table: pa.Table | pa.RecordBatch) -> pd.DataFrame:
    """An Arrow table as a DataFrame; integer and boolean columns keep their type even when holding nulls."""
    return table.to_pandas(types_mapper=_arrow_type_to_pandas)


def as_frame(data: object) -> pd.DataFrame:
    """``data`` as a DataFrame; InvalidInput when it is not one of the tabular shapes shipyard accepts."""
    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, pa.Table | pa.RecordBatch):
        frame = arrow_to_frame(data)
    elif isinstance(data, list):
        frame = _from_records(data)
    elif isinstance(data, Mapping):
        frame = _from_columns(data)
    elif isinstance(data, pd.Series):
        raise InvalidInput("got a pandas Series, which is one column; pass a DataFrame (series.to_frame())")
    else:
        raise InvalidInput(f"cannot read a {type(data).__name__} as a table; pass {_ACCEPTED}")
    if frame.columns.has_duplicates:
        duplicated = sorted({str(name) for name in frame.columns[frame.columns.duplicated()]})
        raise InvalidInput(
            f"the input has duplicate column names {duplicated}; give each column its own name"
        )
    return frame


def _from_records(records: list[Any]) -> pd.DataFrame:
    # Only the first item is checked in Python; pandas rejects a later non-mapping while building the frame.
    if records and not isinstance(records[0], Mapping):
        raise InvalidInput(
            f"a list input must hold one mapping (column name to value) per row; item 0 is a "
            f"{type(records[0]).__name__}"
        )
    try:
        return pd.DataFrame.from_records(records) if records else pd.DataFrame()
    except (TypeError, ValueError, AttributeError) as error:
        raise InvalidInput(
            "a list input must hold one mapping (column name to value) per row; some items are not mappings"
        ) from error


def _from_columns(columns: Mapping[Any, Any]) -> pd.DataFrame:
    lengths: dict[str, int] = {}
    for name, values in columns.items():
        if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
            raise InvalidInput(
                f"column {str(name)!r} of a mapping input must be a list of values, got a "
                f"{type(values).__name__}; wrap a single row in a list"
            )
        lengths[str(name)] = len(values)
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name!r} has {length}" for name, length in list(lengths.items())[:5])
        raise InvalidInput(f"the columns of a mapping input must have equal lengths: {shown}")
    try:
        return pd.DataFrame(dict(columns))
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"cannot build a table from the mapping input: {str(error)[:120]}") from error


def native_column(column: pd.Series) -> pd.Series:
    """``column`` with a pyarrow-backed dtype (other than text) turned into pandas' own dtypes."""
    dtype = column.dtype
    if not isinstance(dtype, pd.ArrowDtype) or pa.types.is_string(dtype.pyarrow_dtype):
        return column
    if pa.types.is_large_string(dtype.pyarrow_dtype):
        return column
    converted = pa.array(column.array).to_pandas(types_mapper=_arrow_type_to_pandas)
    return pd.Series(converted.array, index=column.index, name=column.name)
