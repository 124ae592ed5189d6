"""The seam where every served prediction leaves the request path for the prediction log.

The server hands each answered request to a ``PredictionSink`` after the response is ready. A sink must
return at once (append to a buffer; a background writer does the I/O), so logging never adds latency. The
monitoring feature provides the sink that writes Arrow/Parquet segments; until then the server uses
``NullSink``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class PredictionRecord:
    """One answered request: what came in, what went out, which version answered, how long it took."""

    request_id: str
    prediction_ids: list[str]
    at: datetime
    model: str
    version: int
    protocol: str
    inputs: pd.DataFrame
    predictions: np.ndarray
    probabilities: np.ndarray | None
    latency_seconds: float


class PredictionSink(Protocol):
    def submit(self, record: PredictionRecord) -> None:
        """Take the record without blocking (no I/O on the caller's thread)."""


class NullSink:
    """Discards records: the server's default until a prediction log is configured."""

    def submit(self, record: PredictionRecord) -> None:
        return None
