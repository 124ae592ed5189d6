"""Records as a server hands them to the prediction log, made without a server."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from shipyard.errors import Unavailable
from shipyard.ids import new_request_id, prediction_id
from shipyard.predictions import LogWriter, PredictionRecord, SegmentStore


def record(
    rows: int = 1,
    *,
    model: str = "fraud",
    version: int = 1,
    at: datetime | None = None,
    proba: bool = True,
    seed: int = 0,
) -> PredictionRecord:
    """A request of ``rows`` rows: a float, a text and an integer column; labels 0/1 with probabilities."""
    rng = np.random.default_rng(seed)
    at = at or datetime.now(UTC)
    request = new_request_id(at)  # a server's ids carry the time the request came in
    inputs = pd.DataFrame(
        {
            "amount": rng.normal(50, 10, rows),
            "channel": rng.choice(["web", "pos"], rows),
            "hour": rng.integers(0, 24, rows),
        }
    )
    labels = rng.integers(0, 2, rows)
    probabilities = np.column_stack([1 - labels * 0.8, labels * 0.8]) if proba else None
    return PredictionRecord(
        request_id=request,
        prediction_ids=[prediction_id(request, row) for row in range(rows)],
        at=at,
        model=model,
        version=version,
        protocol="native",
        inputs=inputs,
        predictions=labels,
        probabilities=probabilities,
        latency_seconds=0.002,
    )


def float_record(rows: int = 1, *, seed: int = 0) -> PredictionRecord:
    """A request of float columns only, as a numeric model gets them."""
    rng = np.random.default_rng(seed)
    request = new_request_id()
    return PredictionRecord(
        request_id=request,
        prediction_ids=[prediction_id(request, row) for row in range(rows)],
        at=datetime.now(UTC),
        model="numeric",
        version=2,
        protocol="oip",
        inputs=pd.DataFrame(rng.normal(size=(rows, 4)), columns=["a", "b", "c", "d"]),
        predictions=rng.normal(size=rows),
        probabilities=None,
        latency_seconds=0.001,
    )


def failing_halfway(url: str) -> SegmentStore:
    """A log of 6 segments, and a store over it whose reads fail from the fourth segment on."""
    writer = LogWriter(url, flush_seconds=60)
    for seed in range(6):
        writer.submit(record(2, seed=seed))
        writer.flush()
    writer.close()
    store = SegmentStore(url)
    reading, read = store.row_groups, []

    def row_groups(segment: Any, *args: Any, **kwargs: Any) -> Iterator[pa.Table]:
        read.append(segment)
        if len(read) > 3:
            raise Unavailable("the object store stopped answering")
        yield from reading(segment, *args, **kwargs)

    store.row_groups = row_groups  # type: ignore[method-assign]
    return store


def write_segments(url: str, records: Iterable[PredictionRecord]) -> None:
    """One segment per record, as a writer flushing after each request leaves them."""
    writer = LogWriter(url, flush_seconds=60)
    for item in records:
        writer.submit(item)
        writer.flush()
    writer.close()
