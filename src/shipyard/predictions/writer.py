"""The prediction log's writer: a sink the server hands records to, and a thread that writes segments.

``submit`` (an answered request), ``submit_failure`` (a refused or failed one) and ``submit_usage`` (a
resource sample) append to a deque and return (no lock, no I/O on the request path). Every
``flush_seconds`` a daemon thread takes what has gathered, turns each model version's records into one
Arrow table per stream and writes it as one segment. So a crash loses at most the records of the last
interval, and ``close`` (a clean shutdown) writes everything left. A segment that cannot be written (a full
disk, a lost bucket) is dropped, not retried: serving goes on, and the loss is counted per stream
(``dropped``, and ``on_dropped`` for the server's metrics) so an operator can alert on it; the predicted
rows and failed requests lost also ride on the next usage segment that can be written, which a monitoring
window turns into the figure ``health.log_dropped_rows`` for shipyard's own alert rules. Each writer — one
per server worker process — names its segments with its own token, so workers never write the same file and
need no coordination.

With ``sample_rate`` below 1, each request — answered or failed — is kept with that probability and its rows
carry the rate, so counts over the log can be scaled back up and say that they were sampled. Usage samples
are never sampled away.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TypeVar

import pyarrow as pa

from shipyard.predictions.events import FailedRequest, UsageSample, failures_table, usage_table
from shipyard.predictions.records import PredictionRecord, group_by_shape, to_table
from shipyard.predictions.segments import (
    FAILURES,
    PREDICTIONS,
    STREAMS,
    SUFFIX,
    USAGE,
    SegmentStore,
    hour_of,
)

log = logging.getLogger("shipyard.predictions")

_Item = TypeVar("_Item", PredictionRecord, FailedRequest, UsageSample)


class LogWriter:
    """Buffers served predictions and writes them as segments of the prediction log at ``url``."""

    def __init__(
        self,
        url: str,
        *,
        flush_seconds: float = 1.0,
        sample_rate: float = 1.0,
        on_written: Callable[[int, float], None] | None = None,
        on_dropped: Callable[[str, int], None] | None = None,
    ) -> None:
        if not 0 < sample_rate <= 1:
            raise ValueError(f"sample_rate must be in (0, 1], got {sample_rate}")
        self.store = SegmentStore(url)
        self.failure_store = SegmentStore(url, FAILURES)
        self.usage_store = SegmentStore(url, USAGE)
        self.flush_seconds = flush_seconds
        self.sample_rate = sample_rate
        self._on_written = on_written
        self._on_dropped = on_dropped
        self._pending: deque[PredictionRecord] = deque()
        self._failures: deque[FailedRequest] = deque()
        self._usage: deque[UsageSample] = deque()
        self._token = uuid.uuid4().hex[:8]
        self._sequence = 0
        self._lock = threading.Lock()  # one flush at a time: the thread's and close()'s
        self._random = random.Random()
        self._stopped = threading.Event()
        self.written_rows = 0
        self.failed_flushes = 0
        #: Rows lost because their segment could not be written, per stream (predictions: predicted rows).
        self.dropped: dict[str, int] = dict.fromkeys(STREAMS, 0)
        self._reported_loss = 0  # of the predictions' and failures' loss, how much a usage segment carries
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def submit(self, record: PredictionRecord) -> None:
        if self.sample_rate < 1 and self._random.random() >= self.sample_rate:
            return
        self._pending.append(record)  # deque.append is thread-safe and never blocks

    def submit_failure(self, failure: FailedRequest) -> None:
        if self.sample_rate < 1 and self._random.random() >= self.sample_rate:
            return
        self._failures.append(failure)

    def submit_usage(self, sample: UsageSample) -> None:
        self._usage.append(sample)

    def flush(self) -> int:
        """Write every buffered record now; returns how many predicted rows were written."""
        with self._lock:
            self._flush_failures()
            self._flush_usage()
            records = _drain(self._pending)
            if not records:
                return 0
            started = time.perf_counter()
            written = 0
            for hour_records in _by_hour(records).values():
                for group in group_by_shape(hour_records):
                    written += self._write(group)
            self.written_rows += written
            if self._on_written is not None:
                self._on_written(written, time.perf_counter() - started)
            return written

    def close(self) -> None:
        """Stop the thread and write what is left: a clean shutdown loses nothing."""
        self._stopped.set()
        self._thread.join(timeout=max(5.0, self.flush_seconds * 2))
        self.flush()

    def _flush_failures(self) -> None:
        groups = _by_version(_drain(self._failures), lambda failure: [(failure.model, failure.version)])
        for model, version, members in groups:
            self._write_segment(
                self.failure_store, model, version, members[0].at,
                partial(failures_table, members, self.sample_rate),
                f"{len(members)} failed request(s)", len(members),
            )  # fmt: skip

    def _flush_usage(self) -> None:
        # A process serving several versions counts for each of them.
        groups = _by_version(_drain(self._usage), lambda sample: list(sample.served))
        unreported = self.dropped[PREDICTIONS] + self.dropped[FAILURES] - self._reported_loss
        reported = False
        for model, version, members in groups:
            table = self._write_segment(
                self.usage_store, model, version, members[0].at,
                partial(usage_table, members, model, version, unreported),
                f"{len(members)} usage sample(s)", len(members),
            )  # fmt: skip
            reported = reported or table is not None
        if reported:
            self._reported_loss += unreported

    def _write(self, records: list[PredictionRecord]) -> int:
        first = records[0]
        rows = sum(len(r.predictions) for r in records)
        table = self._write_segment(
            self.store, first.model, first.version, first.at,
            partial(to_table, records, self.sample_rate),
            f"{rows} prediction(s)", rows,
        )  # fmt: skip
        return 0 if table is None else table.num_rows

    def _write_segment(
        self,
        store: SegmentStore,
        model: str,
        version: int,
        first: datetime,
        build: Callable[[], pa.Table],
        what: str,
        rows: int,
    ) -> pa.Table | None:
        self._sequence += 1
        name = f"{int(first.timestamp() * 1000):013d}-{self._token}-{self._sequence:06d}{SUFFIX}"
        try:
            table = build()
            store.write(store.hour_folder(model, version, hour_of(first)), name, table)
        except Exception:
            # The records are dropped rather than retried forever: a full disk must not grow the server's
            # memory without bound. The loss is counted per stream and logged with how much was lost.
            self.failed_flushes += 1
            self.dropped[store.stream] += rows
            if self._on_dropped is not None:
                self._on_dropped(store.stream, rows)
            log.exception("could not write %s of %s/%s to the prediction log", what, model, version)
            return None
        return table

    def _run(self) -> None:
        while not self._stopped.wait(self.flush_seconds):
            try:
                self.flush()
            except Exception:  # the writer thread must outlive any one bad flush
                log.exception("prediction log flush failed")


def _drain(pending: deque[_Item]) -> list[_Item]:
    return [pending.popleft() for _ in range(len(pending))]


def _by_hour(items: list[_Item]) -> dict[datetime, list[_Item]]:
    """One segment per hour: an hour's folder holds that hour's records."""
    hours: dict[datetime, list[_Item]] = {}
    for item in items:
        hours.setdefault(hour_of(item.at), []).append(item)
    return hours


def _by_version(
    items: list[_Item], versions: Callable[[_Item], list[tuple[str, int]]]
) -> list[tuple[str, int, list[_Item]]]:
    """Items by the model versions they concern, within each hour (one segment per hour and version)."""
    groups: dict[tuple[datetime, str, int], list[_Item]] = {}
    for item in items:
        for model, version in versions(item):
            groups.setdefault((hour_of(item.at), model, version), []).append(item)
    return [(model, version, members) for (_, model, version), members in groups.items()]
