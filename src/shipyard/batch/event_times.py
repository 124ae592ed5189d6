"""Event times: when each scored row happened, read from an input column, for the prediction log.

``score --log`` stamps a run's rows with the run's start unless ``timestamp_column`` names the column that
says when each row happened; then every row is logged at its own time, in the log's hour of that time, so
the monitors see a backfilled history — last month's traffic scored today — window by window, as it was.

The column must hold timestamps (a timezone-naive one is read as UTC), dates, or ISO 8601 text, and no
nulls. Every input file's column is checked before the first row is scored, so a bad column is refused at
once with the file and row that broke it, never half-way through a run.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from shipyard.batch.inputs import InputFile
from shipyard.errors import InvalidInput

_TIMESTAMP_MS = pa.timestamp("ms", tz="UTC")
_SHOWN = 40


def event_times(
    values: pa.Array | pa.ChunkedArray, column: str, where: str = "", first_row: int = 0
) -> np.ndarray:
    """The values as milliseconds since the epoch (UTC); InvalidInput naming ``column`` (and ``where``,
    e.g. a file, with the row counted from ``first_row``) when one is null or cannot be read as a time."""
    place = f" of {where}" if where else ""
    if values.null_count:
        first = first_row + int(pc.index(pc.is_null(values), True).as_py())
        raise InvalidInput(
            f"the timestamp column {column!r}{place} has {values.null_count:,} empty value(s) (first at row "
            f"{first}); every row needs the time it happened to be logged at"
        )
    kind = values.type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        if pa.types.is_timestamp(kind) and kind.tz is None:
            values = pc.assume_timezone(values, "UTC")
        return np.asarray(pc.cast(values, _TIMESTAMP_MS).cast(pa.int64()).to_numpy(zero_copy_only=False))
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _parsed(values.to_pylist(), column, place, first_row)
    raise InvalidInput(
        f"the timestamp column {column!r}{place} holds {kind} values, not times; give timestamps, dates or "
        "ISO 8601 text such as 2026-11-24T10:15:00Z"
    )


def _parsed(texts: list[str], column: str, place: str, first_row: int) -> np.ndarray:
    parsed = pd.to_datetime(pd.Series(texts, dtype=object), utc=True, format="ISO8601", errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        shown = str(texts[row])[:_SHOWN]
        raise InvalidInput(
            f"the timestamp column {column!r}{place} has {int(bad.sum()):,} value(s) that are not ISO 8601 "
            f"times (first at row {first_row + row}: {shown!r}); write them like 2026-11-24T10:15:00Z"
        )
    return np.asarray(parsed.dt.as_unit("ms").astype("int64").to_numpy())


def check_event_times(files: list[InputFile], column: str) -> None:
    """Refuse the run before it starts when a file lacks the column or holds a value that is not a time.

    Reads only that column: a Parquet file's column chunks, a CSV file streamed for the one column.
    """
    for file in files:
        rows = 0
        for values in _column_batches(file, column):
            event_times(values, column, file.path, rows)
            rows += len(values)


def _column_batches(file: InputFile, column: str) -> Iterator[pa.Array]:
    missing = InvalidInput(
        f"the input {file.path} has no column {column!r} (given as the timestamp column); its "
        "columns are: {}"
    )
    try:
        if file.format == "parquet":
            parquet = pq.ParquetFile(file.path)
            names = parquet.schema_arrow.names
            if column not in names:
                raise InvalidInput(str(missing).format(", ".join(names)))
            for batch in parquet.iter_batches(columns=[column]):
                yield batch.column(0)
            return
        if file.size == 0:
            return
        header = pa_csv.open_csv(file.path, read_options=pa_csv.ReadOptions(block_size=1 << 16))
        names = header.schema.names
        header.close()
        if column not in names:
            raise InvalidInput(str(missing).format(", ".join(names)))
        options = pa_csv.ConvertOptions(
            include_columns=[column], column_types={column: pa.string()}, strings_can_be_null=True
        )
        for batch in pa_csv.open_csv(file.path, convert_options=options):
            yield batch.column(0)
    except InvalidInput:
        raise
    except Exception:  # an unreadable file is reported by the run itself, with the other files scored
        return
