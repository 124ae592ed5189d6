"""The batched access-log handler: lines arrive in order, in batches, and none is lost on close."""

from __future__ import annotations

import io
import logging
import threading
import time

from shipyard.server.access_log import BatchedLineHandler


def _logger(handler: logging.Handler, name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def test_lines_are_written_within_the_interval_in_order() -> None:
    stream = io.StringIO()
    # Long enough that logging 100 lines on a loaded machine finishes before the first write is due.
    handler = BatchedLineHandler(stream, interval=0.5)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = _logger(handler, "tests.access.interval")
    for index in range(100):
        logger.info("request %d", index)
    assert stream.getvalue() == ""  # nothing written on the logging thread
    deadline = time.monotonic() + 5
    while stream.getvalue().count("\n") < 100 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.getvalue().splitlines() == [f"request {index}" for index in range(100)]
    handler.close()


def test_close_writes_what_is_pending_and_no_line_is_lost_under_threads() -> None:
    stream = io.StringIO()
    handler = BatchedLineHandler(stream, interval=0.001)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = _logger(handler, "tests.access.threads")

    def burst(worker: int) -> None:
        for index in range(2000):
            logger.info("%d-%d", worker, index)

    threads = [threading.Thread(target=burst, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    handler.close()
    lines = stream.getvalue().splitlines()
    assert sorted(lines) == sorted(f"{worker}-{index}" for worker in range(4) for index in range(2000))
