"""The short-lived process that merges a prediction log's finished hours apart from its caller.

``python -m shipyard.predictions.merge_apart`` reads what to merge from its standard input as JSON (the
log's URL and stream, the time, the names of the segments chosen and the range of hours), merges them with
``compact`` and prints the result as JSON. It is a plain child process rather than a multiprocessing one:
the monitoring runner that starts it lives in a daemon process, which multiprocessing allows no children.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import datetime
from typing import Any

from shipyard.errors import ShipyardError
from shipyard.predictions.maintenance import CompactionResult, compact
from shipyard.predictions.segments import SegmentStore


def merge(request: dict[str, Any]) -> CompactionResult:
    """``compact`` of the segments ``request`` names, in the hours of its range."""
    names = frozenset(request["names"])
    start = None if request["start"] is None else datetime.fromisoformat(request["start"])
    return compact(
        SegmentStore(request["url"], request["stream"]),
        now=datetime.fromisoformat(request["now"]),
        mergeable=lambda segment: segment.name in names,
        start=start,
        end=datetime.fromisoformat(request["end"]),
    )


def main() -> int:
    try:
        result = merge(json.load(sys.stdin))
    except ShipyardError as error:  # the object store is down: one line for the caller to report
        print(error, file=sys.stderr)
        return 1
    print(json.dumps(dataclasses.asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
