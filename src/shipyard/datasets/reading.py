"""Reading tables from files: CSV and Parquet in, a pandas DataFrame out, with CSV's typing problems found.

CSV carries no types, so a column that is numbers in 9,990 rows and text in 10 comes back as text. That is
the classic silent failure of a training pipeline, so ``csv_type_breaks`` finds such columns and the rows
that break the majority type, and callers report them by row number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.contracts import Contract
from shipyard.errors import InvalidInput

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
#: A text column is "really numeric" when at least this share of its non-empty values parse as numbers.
_NUMERIC_MAJORITY = 0.5


def detect_format(path: Path, format: str | None = None) -> str:
    """The table format of ``path``, from ``format`` or the file suffix."""
    if format is not None:
        if format not in set(FORMATS.values()):
            raise InvalidInput(f"unknown table format {format!r}; use one of: csv, parquet")
        return format
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise InvalidInput(
            f"cannot tell the format of {path.name!r} from its suffix; use a .csv or .parquet file, or pass "
            "the format (CLI: --format csv)"
        ) from None


def read_table(path: Path, format: str) -> pd.DataFrame:
    """Read a CSV or Parquet file into a DataFrame; unreadable content is InvalidInput naming the file."""
    try:
        if format == "csv":
            frame = pd.read_csv(path, low_memory=False)
            return _parse_iso_datetimes(frame)
        return pq.read_table(path).to_pandas()
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, pa.ArrowException) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(f"cannot read {path.name!r} as {format}: {first}") from None


def as_frame(data: Any) -> pd.DataFrame:
    """A DataFrame from a DataFrame or a pyarrow Table."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pa.Table):
        return data.to_pandas()
    raise InvalidInput(
        f"expected a pandas DataFrame, a pyarrow Table or a file path, got {type(data).__name__}"
    )


def read_contract(path: Path) -> Contract:
    """A data contract from a YAML (.yaml/.yml) or JSON (.json) file a user edited."""
    if not path.is_file():
        raise InvalidInput(f"contract file {str(path)!r} does not exist")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        return Contract.from_json(text)
    if path.suffix.lower() in {".yaml", ".yml"}:
        return Contract.from_yaml(text)
    raise InvalidInput(f"contract file {path.name!r} must end in .yaml, .yml or .json")


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` deterministically (same data, same bytes), so content hashes identify data."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, compression="zstd", write_statistics=True, use_dictionary=True)


def csv_type_breaks(frame: pd.DataFrame) -> dict[str, list[int]]:
    """For text columns whose values are mostly numbers: the row positions holding non-numbers."""
    breaks: dict[str, list[int]] = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
            continue
        present = column.notna().to_numpy()
        if not present.any():
            continue
        numbers = pd.to_numeric(column.where(present), errors="coerce").notna().to_numpy()
        share = numbers[present].mean()
        if _NUMERIC_MAJORITY <= share < 1.0:
            breaks[str(name)] = np.flatnonzero(present & ~numbers).tolist()
    return breaks


def _parse_iso_datetimes(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn text columns whose every value is an ISO-8601 timestamp into datetimes (CSV has no types)."""
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            continue
        values = column.dropna()
        if (
            values.empty
            or not values.astype(str).str.match(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?").all()
        ):
            continue
        try:
            frame[name] = pd.to_datetime(column, format="ISO8601")
        except (ValueError, TypeError):
            continue
    return frame
