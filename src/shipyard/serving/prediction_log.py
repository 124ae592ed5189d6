"""The seam where every served prediction leaves the request path for the prediction log.

The server hands each answered request to a ``PredictionSink`` after the response is ready. A sink must
return at once (append to a buffer; a background writer does the I/O), so logging never adds latency.
``shipyard.predictions.LogWriter`` is the sink that writes the prediction log; ``NullSink`` drops records
(a server started with the log turned off).
"""

from __future__ import annotations

from typing import Protocol

from shipyard.predictions.records import PredictionRecord

__all__ = ["NullSink", "PredictionRecord", "PredictionSink"]


class PredictionSink(Protocol):
    def submit(self, record: PredictionRecord) -> None:
        """Take the record without blocking (no I/O on the caller's thread)."""


class NullSink:
    """Discards records: the server's default until a prediction log is configured."""

    def submit(self, record: PredictionRecord) -> None:
        return None
