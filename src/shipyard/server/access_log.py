"""Access log lines written in batches, so logging a request costs the request path one list append.

A ``StreamHandler`` formats and writes (and flushes) every line on the thread that logs it: under load that
was a tenth of a serving worker's time. ``BatchedLineHandler`` keeps the records and a daemon thread writes
what has gathered every ``interval`` seconds in one write; closing the handler (uvicorn's shutdown, or
``logging.shutdown`` at exit) writes the rest. A crash can lose the last interval of access lines — never a
prediction, which the prediction log keeps.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import deque
from typing import TextIO


class BatchedLineHandler(logging.Handler):
    """Formats records off the logging thread and writes them ``interval`` seconds apart, in one write."""

    def __init__(self, stream: TextIO | None = None, *, interval: float = 0.2) -> None:
        super().__init__()
        self._stream = stream
        self._interval = interval
        self._pending: deque[logging.LogRecord] = deque()
        self._stopped = threading.Event()
        self._writer = threading.Thread(target=self._write_periodically, name="access-log", daemon=True)
        self._writer.start()

    def emit(self, record: logging.LogRecord) -> None:
        self._pending.append(record)  # deque.append is thread-safe: no lock on the request path

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # logging.Handler always creates its lock
            records = [self._pending.popleft() for _ in range(len(self._pending))]
            if not records:
                return
            stream = self._stream or sys.stderr
            try:
                stream.write("".join(self.format(record) + "\n" for record in records))
                stream.flush()
            except Exception:
                for record in records:
                    self.handleError(record)

    def close(self) -> None:
        self._stopped.set()
        self.flush()
        super().close()

    def _write_periodically(self) -> None:
        while not self._stopped.wait(self._interval):
            self.flush()


access_log = logging.getLogger("shipyard.access")


def configure_logging() -> None:
    """Access and server logs as one key=value line each on stderr, unless the host app configured them.

    Server messages are written at once; access lines in batches (``BatchedLineHandler``).
    """
    root = logging.getLogger("shipyard")
    if root.handlers:
        return
    line = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    handler = logging.StreamHandler()
    handler.setFormatter(line)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    batched = BatchedLineHandler()  # one line per request: written in batches, off the request path
    batched.setFormatter(line)
    access_log.addHandler(batched)
    access_log.propagate = False
