"""The garbage collector's pace in processes of shipyard's own (a CLI command, a monitoring worker).

Such a process imports the data stack (pandas, pyarrow, SQLAlchemy: half a million objects) and then builds
thousands of small results. At Python's default, a pass of the youngest generation every 700 allocations,
the collector runs thousands of times and rescans that heap: a fifth of a second of a one-second command, a
few percent of a long monitoring range. The youngest generation is collected rarely instead (cyclic garbage
waits for at most this many allocations), the older ones at Python's own ratios to it. Not for a library
caller's process: its pace is its own.
"""

from __future__ import annotations

import gc

#: Container allocations between two passes of the youngest generation.
ALLOCATIONS_BETWEEN_COLLECTIONS = 100_000


def collect_rarely() -> None:
    """Run the garbage collector every ``ALLOCATIONS_BETWEEN_COLLECTIONS`` allocations in this process."""
    gc.set_threshold(ALLOCATIONS_BETWEEN_COLLECTIONS, 10, 10)
