"""The seam where every request leaves the request path for the prediction log.

The server hands each answered request to a ``PredictionSink`` after the response is ready, each request it
refused or failed to answer too, and every few seconds a sample of its process's CPU time and memory. A
sink must return at once (append to a buffer; a background writer does the I/O), so logging never adds
latency. ``shipyard.predictions.LogWriter`` is the sink that writes the prediction log; ``NullSink`` drops
everything (a server started with the log turned off).
"""

from __future__ import annotations

from typing import Protocol

from shipyard.predictions.events import FailedRequest, UsageSample
from shipyard.predictions.records import PredictionRecord

__all__ = ["FailedRequest", "NullSink", "PredictionRecord", "PredictionSink", "UsageSample"]


class PredictionSink(Protocol):
    def submit(self, record: PredictionRecord) -> None:
        """Take the record without blocking (no I/O on the caller's thread)."""

    def submit_failure(self, failure: FailedRequest) -> None:
        """Take a request that got no prediction, without blocking."""

    def submit_usage(self, sample: UsageSample) -> None:
        """Take a resource sample, without blocking."""

    def flush(self) -> object:
        """Write what is buffered now (blocking): late labels can then find the newest predictions."""


class NullSink:
    """Discards everything: the server's sink when the prediction log is turned off."""

    def submit(self, record: PredictionRecord) -> None:
        return None

    def submit_failure(self, failure: FailedRequest) -> None:
        return None

    def submit_usage(self, sample: UsageSample) -> None:
        return None

    def flush(self) -> None:
        return None
