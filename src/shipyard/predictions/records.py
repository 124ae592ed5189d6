"""Served predictions as Arrow tables: one row per predicted row, inputs kept as one struct column.

Columns of every segment::

    prediction_id  string        <request id>-<row>, what ground truth is attached to
    request_id     string
    timestamp      timestamp[ms, UTC]   when the answer was ready
    model          string
    version        int32
    protocol       string        native, mlflow or oip
    arm            string        which arm of a rollout answered: stable, canary or shadow (segments written
                                 before rollouts existed have no such column and read as stable)
    latency_ms     float32       the whole request's latency
    batch_rows     int32         rows in the model call that answered it (with other requests' rows)
    sample_rate    float32       the share of requests being logged when this one was (1.0: all)
    inputs         struct<…>     the validated input row, one field per contract column
    prediction     the model's output type (int64, float64, string, bool)
    probabilities  list<float64> class probabilities, null when not computed

A shadow answer (the candidate's answer to a mirrored copy, never returned) keeps the request id of the
request it mirrors, and its prediction ids are the stable answer's with ``-shadow`` appended: the pair joins
on the request id and row, and a late label, sent for the id the client saw, attaches to the stable answer
only.

Keeping inputs in a struct leaves feature names free (a feature may be called ``model``) and makes
``inputs.amount`` a plain SQL path in DuckDB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat

import numpy as np
import pandas as pd
import pyarrow as pa

# Defined with the log's other names, where code that never writes a segment reads them.
from shipyard.predictions.names import DEFAULT_ARM as DEFAULT_ARM
from shipyard.predictions.names import OUTPUT_COLUMNS as OUTPUT_COLUMNS
from shipyard.predictions.names import PREDICTION_COLUMN as PREDICTION_COLUMN
from shipyard.predictions.names import SCORE_COLUMN as SCORE_COLUMN


@dataclass(frozen=True)
class PredictionRecord:
    """One answered request: what came in (validated), what went out, which version, how long it took."""

    request_id: str
    prediction_ids: list[str]
    at: datetime
    model: str
    version: int
    protocol: str
    inputs: pd.DataFrame
    predictions: np.ndarray
    probabilities: np.ndarray | None
    latency_seconds: float
    #: Rows in the batch the model predicted these rows in (0: not known).
    batch_rows: int = 0
    #: The arm of a rollout that answered: ``stable`` (also when no rollout runs), ``canary`` or ``shadow``.
    arm: str = DEFAULT_ARM


TIMESTAMP = pa.timestamp("ms", tz="UTC")
#: The columns every segment has, before ``inputs``, ``prediction`` and ``probabilities``.
META_COLUMNS = (
    "prediction_id",
    "request_id",
    "timestamp",
    "model",
    "version",
    "protocol",
    "arm",
    "latency_ms",
    "batch_rows",
    "sample_rate",
)


def group_by_shape(records: Sequence[PredictionRecord]) -> list[list[PredictionRecord]]:
    """Records that fit in one table together: same version, input columns and output kind.

    Requests to one model carry views of one column Index (the codecs and the contract reuse it), which
    ``Index.is_`` recognises without reading a label; only a record whose columns are not such a view has
    its labels compared. Reading every record's labels cost more than writing the segment.
    """
    groups: list[tuple[tuple[object, ...], pd.Index, list[PredictionRecord]]] = []
    for record in records:
        kind = (record.model, record.version, record.predictions.dtype.str, record.probabilities is not None)
        columns = record.inputs.columns
        for group_kind, group_columns, members in groups:
            if group_kind == kind and (columns.is_(group_columns) or columns.equals(group_columns)):
                members.append(record)
                break
        else:
            groups.append((kind, columns, [record]))
    return [members for _, _, members in groups]


def to_table(records: Sequence[PredictionRecord], sample_rate: float) -> pa.Table:
    """One table of every row of ``records``, one group of ``group_by_shape``."""
    counts = [len(record.predictions) for record in records]
    total = sum(counts)
    first = records[0]
    prediction_ids = [pid for record in records for pid in record.prediction_ids]
    columns: dict[str, pa.Array] = {
        "prediction_id": pa.array(prediction_ids, pa.string()),
        "request_id": pa.array(_repeated([r.request_id for r in records], counts), pa.string()),
        "timestamp": pa.array(
            np.repeat(np.array([round(r.at.timestamp() * 1000) for r in records], dtype=np.int64), counts),
            TIMESTAMP,
        ),
        "model": pa.array(repeat(first.model, total), pa.string(), size=total),
        "version": pa.array(np.full(total, first.version, dtype=np.int32)),
        "protocol": pa.array(_repeated([r.protocol for r in records], counts), pa.string()),
        "arm": pa.array(_repeated([r.arm for r in records], counts), pa.string()),
        "latency_ms": pa.array(
            np.repeat(np.array([r.latency_seconds * 1000 for r in records], dtype=np.float32), counts)
        ),
        "batch_rows": pa.array(np.repeat(np.array([r.batch_rows for r in records], dtype=np.int32), counts)),
        "sample_rate": pa.array(np.full(total, sample_rate, dtype=np.float32)),
        "inputs": _inputs([record.inputs for record in records]),
        "prediction": _values(np.concatenate([record.predictions for record in records])),
        "probabilities": _probabilities(records, total),
    }
    return pa.table(columns)


def _repeated(values: list[object], counts: list[int]) -> list[object]:
    if all(count == 1 for count in counts):
        return values
    return [value for value, count in zip(values, counts, strict=True) for _ in range(count)]


def _inputs(frames: list[pd.DataFrame]) -> pa.StructArray:
    first = frames[0]
    names = [str(name) for name in first.columns.tolist()]
    blocks = [frame.to_numpy() for frame in frames] if names else []  # a view for a frame of floats
    if blocks and all(block.dtype == np.float64 for block in blocks):
        matrix = np.vstack(blocks)
        arrays = [pa.array(matrix[:, index]) for index in range(len(names))]
    else:
        combined = pd.concat(frames, ignore_index=True) if len(frames) > 1 else first
        table = pa.Table.from_pandas(combined, preserve_index=False)
        arrays = [column.combine_chunks() for column in table.columns]
        names = table.column_names
    if not names:
        return pa.array([{}] * sum(len(frame) for frame in frames), pa.struct([]))
    return pa.StructArray.from_arrays(arrays, names=names)


def _values(values: np.ndarray) -> pa.Array:
    if values.dtype.kind in "biuf":
        return pa.array(values)
    return pa.array(values.tolist())  # labels held as objects: text, mixed


def _probabilities(records: Sequence[PredictionRecord], total: int) -> pa.Array:
    if records[0].probabilities is None:
        return pa.nulls(total, pa.list_(pa.float64()))
    matrix = np.vstack([np.asarray(record.probabilities, dtype=np.float64) for record in records])
    width = matrix.shape[1] if matrix.ndim == 2 else 1
    offsets = np.arange(0, total * width + 1, width, dtype=np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(matrix.reshape(-1)))
