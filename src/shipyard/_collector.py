"""The garbage collector's pace in processes of shipyard's own (a CLI command, a monitoring worker, a server
worker while it starts).

Such a process imports the data stack (pandas, pyarrow, SQLAlchemy: half a million objects) and then builds
thousands of small results. At Python's default, a pass of the youngest generation every 700 allocations,
the collector runs thousands of times and rescans that heap: a fifth of a second of a one-second command, a
few percent of a long monitoring range, 0.3 s of a server worker's start. The youngest generation is
collected rarely instead (cyclic garbage waits for at most this many allocations), the older ones at
Python's own ratios to it. Not for a library caller's process: its pace is its own.

A server worker goes back to the earlier pace once its start-up heap is frozen (``collect_as_before``):
a pass over 100,000 young objects would then stall a request, where 700 cost microseconds.
"""

from __future__ import annotations

import gc

#: Container allocations between two passes of the youngest generation.
ALLOCATIONS_BETWEEN_COLLECTIONS = 100_000

_pace_before: tuple[int, int, int] | None = None


def collect_rarely() -> None:
    """Run the garbage collector every ``ALLOCATIONS_BETWEEN_COLLECTIONS`` allocations in this process."""
    global _pace_before
    if _pace_before is None:
        _pace_before = gc.get_threshold()
    gc.set_threshold(ALLOCATIONS_BETWEEN_COLLECTIONS, 10, 10)


def collect_as_before() -> None:
    """Back to the pace this process had before ``collect_rarely`` (nothing to do if it was never called)."""
    if _pace_before is not None:
        gc.set_threshold(*_pace_before)
