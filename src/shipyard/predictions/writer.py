"""The prediction log's writer: a sink the server hands records to, and a thread that writes segments.

``submit`` appends to a deque and returns (no lock, no I/O on the request path). Every ``flush_seconds``
a daemon thread takes what has gathered, turns each model version's records into one Arrow table and
writes it as one segment. So a crash loses at most the records of the last interval, and ``close`` (a clean
shutdown) writes everything left. Each writer — one per server worker process — names its segments with
its own token, so workers never write the same file and need no coordination.

With ``sample_rate`` below 1, each request is kept with that probability and its rows carry the rate, so
counts over the log can be scaled back up and say that they were sampled.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable

from shipyard.predictions.records import PredictionRecord, group_by_shape, to_table
from shipyard.predictions.segments import SUFFIX, SegmentStore, hour_of

log = logging.getLogger("shipyard.predictions")


class LogWriter:
    """Buffers served predictions and writes them as segments of the prediction log at ``url``."""

    def __init__(
        self,
        url: str,
        *,
        flush_seconds: float = 1.0,
        sample_rate: float = 1.0,
        on_written: Callable[[int, float], None] | None = None,
    ) -> None:
        if not 0 < sample_rate <= 1:
            raise ValueError(f"sample_rate must be in (0, 1], got {sample_rate}")
        self.store = SegmentStore(url)
        self.flush_seconds = flush_seconds
        self.sample_rate = sample_rate
        self._on_written = on_written
        self._pending: deque[PredictionRecord] = deque()
        self._token = uuid.uuid4().hex[:8]
        self._sequence = 0
        self._lock = threading.Lock()  # one flush at a time: the thread's and close()'s
        self._random = random.Random()
        self._stopped = threading.Event()
        self.written_rows = 0
        self.failed_flushes = 0
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def submit(self, record: PredictionRecord) -> None:
        if self.sample_rate < 1 and self._random.random() >= self.sample_rate:
            return
        self._pending.append(record)  # deque.append is thread-safe and never blocks

    def flush(self) -> int:
        """Write every buffered record now; returns how many rows were written."""
        with self._lock:
            records = [self._pending.popleft() for _ in range(len(self._pending))]
            if not records:
                return 0
            started = time.perf_counter()
            by_hour: dict[object, list[PredictionRecord]] = {}
            for record in records:  # one segment per hour too: an hour's folder holds that hour's predictions
                by_hour.setdefault(hour_of(record.at), []).append(record)
            written = 0
            for hour_records in by_hour.values():
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

    def _write(self, records: list[PredictionRecord]) -> int:
        first = records[0]
        hour = hour_of(first.at)
        self._sequence += 1
        name = f"{int(first.at.timestamp() * 1000):013d}-{self._token}-{self._sequence:06d}{SUFFIX}"
        try:
            table = to_table(records, self.sample_rate)
            self.store.write(self.store.hour_folder(first.model, first.version, hour), name, table)
        except Exception:
            # The records are dropped rather than retried forever: a full disk must not grow the server's
            # memory without bound. The failure is logged with how much was lost.
            self.failed_flushes += 1
            log.exception(
                "could not write %d prediction(s) of %s/%s to the prediction log",
                sum(len(r.predictions) for r in records),
                first.model,
                first.version,
            )
            return 0
        return table.num_rows

    def _run(self) -> None:
        while not self._stopped.wait(self.flush_seconds):
            try:
                self.flush()
            except Exception:  # the writer thread must outlive any one bad flush
                log.exception("prediction log flush failed")
