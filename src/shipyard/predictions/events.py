"""What the prediction log keeps besides predictions: requests that got no prediction, and resource usage.

A monitor needs both to tell the whole story of a window: the error rate and the rejected share (requests
refused by the data contract, per feature) come from the ``failures`` stream, the CPU and memory of the
processes serving a version from the ``usage`` stream. Columns::

    failures: request_id, timestamp, model, version, protocol, arm (stable, canary or shadow; stable in
              segments written before rollouts existed), status (HTTP), error (kind), rows (in the
              request, 0 when its body could not be read), latency_ms, sample_rate,
              problems list<struct<row int32, column string, problem string>> (contract problems, ≤ 100)
    usage:    timestamp, model, version, process (host:pid:start), cpu_seconds (cumulative, user +
              system), rss_bytes, log_dropped_rows (rows this process's log writer lost since its last
              usage segment was written: a full disk shows up in the log once it can be written again)

Offending values are not kept: a rejected request's payload stays out of the log, as it stays out of the
server's error messages.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from shipyard.predictions.names import FAILURE_KINDS as FAILURE_KINDS
from shipyard.predictions.records import DEFAULT_ARM, TIMESTAMP

#: Contract problems kept per failed request: enough to name the features, bounded for a huge bad request.
MAX_PROBLEMS = 100

PROBLEM_TYPE = pa.struct([("row", pa.int32()), ("column", pa.string()), ("problem", pa.string())])


@dataclass(frozen=True)
class FailedRequest:
    """A request that got no prediction: refused as bad input (4xx) or failed in the server (5xx)."""

    request_id: str
    at: datetime
    model: str
    version: int
    protocol: str
    status: int
    error: str
    rows: int
    latency_seconds: float
    #: ``(row, column, problem code)`` of each contract problem; row -1 is the whole column.
    problems: tuple[tuple[int, str, str], ...] = ()
    #: The arm of a rollout the request went to (``stable`` when no rollout runs).
    arm: str = DEFAULT_ARM


@dataclass(frozen=True)
class UsageSample:
    """One process's cumulative CPU time and resident memory at ``at``, for each version it serves."""

    at: datetime
    process: str
    cpu_seconds: float
    rss_bytes: int
    served: tuple[tuple[str, int], ...]


def failures_table(failures: Sequence[FailedRequest], sample_rate: float) -> pa.Table:
    """One table of ``failures`` (all of one model version)."""
    count = len(failures)
    return pa.table(
        {
            "request_id": pa.array([f.request_id for f in failures], pa.string()),
            "timestamp": pa.array([_ms(f.at) for f in failures], pa.int64()).cast(TIMESTAMP),
            "model": pa.array([f.model for f in failures], pa.string()),
            "version": pa.array([f.version for f in failures], pa.int32()),
            "protocol": pa.array([f.protocol for f in failures], pa.string()),
            "arm": pa.array([f.arm for f in failures], pa.string()),
            "status": pa.array([f.status for f in failures], pa.int16()),
            "error": pa.array([f.error for f in failures], pa.string()),
            "rows": pa.array([f.rows for f in failures], pa.int64()),
            "latency_ms": pa.array([f.latency_seconds * 1000 for f in failures], pa.float32()),
            "sample_rate": pa.array(np.full(count, sample_rate, dtype=np.float32)),
            "problems": pa.array(
                [
                    [{"row": row, "column": column, "problem": code} for row, column, code in f.problems]
                    for f in failures
                ],
                pa.list_(PROBLEM_TYPE),
            ),
        }
    )


def usage_table(
    samples: Sequence[UsageSample], model: str, version: int, log_dropped_rows: int = 0
) -> pa.Table:
    """One table of ``samples`` of processes serving ``model`` version ``version``; ``log_dropped_rows``
    (the writer's loss not yet reported) is carried on the first sample."""
    count = len(samples)
    dropped = np.zeros(count, dtype=np.int64)
    if count:
        dropped[0] = log_dropped_rows
    return pa.table(
        {
            "timestamp": pa.array([_ms(s.at) for s in samples], pa.int64()).cast(TIMESTAMP),
            "model": pa.array([model] * count, pa.string()),
            "version": pa.array([version] * count, pa.int32()),
            "process": pa.array([s.process for s in samples], pa.string()),
            "cpu_seconds": pa.array([s.cpu_seconds for s in samples], pa.float64()),
            "rss_bytes": pa.array([s.rss_bytes for s in samples], pa.int64()),
            "log_dropped_rows": pa.array(dropped, pa.int64()),
        }
    )


def contract_problems(problems: Sequence[Any]) -> tuple[tuple[int, str, str], ...]:
    """The first ``MAX_PROBLEMS`` contract problems as ``(row, column, code)``, without their values."""
    return tuple((int(p.row), str(p.column), str(p.problem)) for p in problems[:MAX_PROBLEMS])


def process_name() -> str:
    """``host:pid:start``: unique across machines and across a pid's reuse."""
    return f"{socket.gethostname()}:{os.getpid()}:{int(time.time())}"


def _ms(moment: datetime) -> int:
    return round(moment.astimezone(UTC).timestamp() * 1000)
