"""Service figures of a window that the predictions alone cannot give: failed requests and resource use.

From the prediction log's ``failures`` stream: how many requests got no prediction, why (``rejected`` by the
data contract, ``invalid`` bodies, ``overloaded``, ``timeout``, ``model_error``…), and for contract
rejections how many rows each feature was to blame for. From the ``usage`` stream: CPU use and memory of the
processes that served the version.

Counts are scaled back up by each row's sampling rate, like the predictions' counts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.predictions import PredictionLog

#: HTTP statuses at or above this are the server's fault (errors); below it, the request's (refusals).
SERVER_ERROR = 500


@dataclass
class FailureCounts:
    """Requests of one version in a window that got no prediction, estimated when the log is sampled."""

    requests: float = 0.0
    errors: float = 0.0  # 5xx: the model failed, the server was overloaded or too slow
    refused: float = 0.0  # 4xx: the request broke the contract or could not be read
    rows: float = 0.0  # rows of the refused and failed requests (0 for a body that could not be read)
    by_kind: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    #: Rows rejected because of each feature (a row with problems in two features counts for both).
    rejected_rows: dict[str, float] = field(default_factory=lambda: defaultdict(float))


def count_failures(
    log: PredictionLog, model: str, version: int, start: datetime, end: datetime
) -> FailureCounts:
    counts = FailureCounts()
    for table in log.failures(model, version, start, end):
        weights = 1.0 / np.maximum(table["sample_rate"].to_numpy(zero_copy_only=False).astype(float), 1e-9)
        statuses = table["status"].to_numpy(zero_copy_only=False)
        rows = table["rows"].to_numpy(zero_copy_only=False).astype(float)
        counts.requests += float(weights.sum())
        counts.errors += float(weights[statuses >= SERVER_ERROR].sum())
        counts.refused += float(weights[statuses < SERVER_ERROR].sum())
        counts.rows += float((weights * rows).sum())
        for kind, weight in zip(table["error"].to_pylist(), weights.tolist(), strict=True):
            counts.by_kind[kind] += weight
        for problems, request_rows, weight in zip(
            table["problems"].to_pylist(), rows.tolist(), weights.tolist(), strict=True
        ):
            for column, blamed in _rows_per_column(problems or [], request_rows).items():
                counts.rejected_rows[column] += blamed * weight
    return counts


def _rows_per_column(problems: list[dict[str, object]], request_rows: float) -> dict[str, float]:
    """Rows each column was to blame for: distinct rows with a problem, or all of them for a whole column."""
    rows: dict[str, set[object]] = defaultdict(set)
    whole: set[str] = set()
    for problem in problems:
        column = str(problem["column"])
        if problem["row"] == -1:
            whole.add(column)
        else:
            rows[column].add(problem["row"])
    blamed = {column: float(len(found)) for column, found in rows.items()}
    blamed.update(dict.fromkeys(whole, request_rows))
    return blamed


def usage_figures(
    log: PredictionLog, model: str, version: int, start: datetime, end: datetime
) -> dict[str, float | None]:
    """CPU use (percent of one core, summed over the processes) and memory (bytes, summed) of the processes
    that served the version in the window.

    CPU use is each process's growth in CPU time between its first and last sample over the time between
    them, so it needs two samples of a process in the window. Memory is the mean and the peak of each
    process's resident set size, summed over processes. ``log_dropped_rows`` is what the processes' log
    writers reported lost (rows of predictions and failed requests that could not be written).
    """
    tables = list(log.usage(model, version, start, end))
    if not tables:
        return no_usage()
    table = pa.concat_tables(tables, promote_options="permissive")
    order = pc.sort_indices(table, sort_keys=[("timestamp", "ascending")])
    table = table.take(order)
    seconds = table["timestamp"].cast(pa.int64()).to_numpy() / 1000.0
    cpu = table["cpu_seconds"].to_numpy(zero_copy_only=False)
    rss = table["rss_bytes"].to_numpy(zero_copy_only=False).astype(float)
    by_process: dict[str, list[int]] = defaultdict(list)
    for index, process in enumerate(table["process"].to_pylist()):
        by_process[process].append(index)
    cpu_cores = 0.0
    have_cpu = False
    memory = peak = 0.0
    for indices in by_process.values():
        first, last = indices[0], indices[-1]
        elapsed = seconds[last] - seconds[first]
        if len(indices) >= 2 and elapsed > 0:
            cpu_cores += max(0.0, cpu[last] - cpu[first]) / elapsed
            have_cpu = True
        memory += float(rss[indices].mean())
        peak += float(rss[indices].max())
    return {
        "cpu_percent": cpu_cores * 100 if have_cpu else None,
        "memory_bytes": memory,
        "memory_peak_bytes": peak,
        "processes": float(len(by_process)),
        "log_dropped_rows": _total(table, "log_dropped_rows"),
    }


def no_usage() -> dict[str, float | None]:
    """The usage figures of a window without a sample."""
    return {
        "cpu_percent": None,
        "memory_bytes": None,
        "memory_peak_bytes": None,
        "processes": 0.0,
        "log_dropped_rows": 0.0,
    }


def _total(table: pa.Table, column: str) -> float:
    """The sum of ``column``, 0 where segments written before it existed lack it."""
    if column not in table.column_names:
        return 0.0
    return float(pc.sum(table[column]).as_py() or 0)
