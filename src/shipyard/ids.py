"""Request ids that sort by time and say when they were made, unique across processes without coordination.

An id is 32 hex digits: the Unix time in milliseconds (12), a random number drawn once per process and again
in every forked child (8), and a per-process counter (12). Ids from one process never repeat; two processes
collide only if they draw the same 32-bit number *and* reach the same count in the same millisecond. Because
the time leads, the prediction log and late ground truth can find a prediction's time (and so its log
segment) from its id alone, and ids sort in the order they were made. Making one costs a counter step and a
clock read, not the system call behind ``uuid4``.

A prediction id is ``<request id>-<row>``: one per row of the request.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import time
from datetime import UTC, datetime

_ID = re.compile(r"^([0-9a-f]{12})[0-9a-f]{20}(?:-(\d+))?$")


def _reseed() -> None:
    global _process, _counter
    _process = int.from_bytes(os.urandom(4), "big")
    _counter = itertools.count(int.from_bytes(os.urandom(2), "big"))


_process = 0
_counter = itertools.count()
_reseed()
os.register_at_fork(after_in_child=_reseed)


def new_request_id(at: datetime | None = None) -> str:
    """A fresh id: time-ordered, unique across the server's worker processes. ``at`` stamps another time
    than now (replaying or back-filling predictions made earlier)."""
    millis = time.time_ns() // 1_000_000 if at is None else round(at.timestamp() * 1000)
    return f"{millis:012x}{_process:08x}{next(_counter) & 0xFFFFFFFFFFFF:012x}"


def derived_request_id(at: datetime, seed: str) -> str:
    """An id stamped ``at`` whose other 20 digits come from ``seed``: the same seed gives the same id, so a
    batch job that resumes names its predictions as an uninterrupted run would."""
    millis = round(at.timestamp() * 1000)
    return f"{millis:012x}{hashlib.sha256(seed.encode()).hexdigest()[:20]}"


def prediction_id(request_id: str, row: int) -> str:
    return f"{request_id}-{row}"


def made_at(identifier: str) -> datetime | None:
    """When a request or prediction id was made, or None for text that is not one of our ids."""
    match = _ID.match(identifier)
    if match is None:
        return None
    return datetime.fromtimestamp(int(match.group(1), 16) / 1000, tz=UTC)
