"""What the engine returns for one request, before a protocol codec turns it into a response.

Codecs (native JSON, MLflow, Open Inference Protocol) only ever see these types, so validation, batching and
logging live once in the engine and never in a protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shipyard.ids import prediction_id


@dataclass(frozen=True)
class DecodedRequest:
    """A request as the engine needs it: rows, and how they were written."""

    frame: pd.DataFrame
    #: True for text formats (CSV) where numbers arrive as strings and may be parsed; False for JSON.
    text_input: bool = False
    #: Protocol-specific details a codec wants back when encoding (e.g. OIP output names, MLflow orient).
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PredictionResult:
    """Predictions for one request's rows."""

    model: str
    version: int
    request_id: str
    predictions: np.ndarray
    probabilities: np.ndarray | None = None
    classes: list[Any] | None = None
    task: str = "unknown"
    #: The rows as the model saw them: validated and coerced by the contract (what the prediction log keeps).
    inputs: pd.DataFrame | None = None
    #: Rows in the batch these rows were predicted in (with other requests' rows).
    batch_rows: int = 0

    @property
    def prediction_ids(self) -> list[str]:
        """One id per row, ``<request id>-<row>``: what late ground truth is attached to."""
        return [prediction_id(self.request_id, row) for row in range(len(self.predictions))]


def to_plain(values: np.ndarray) -> list[Any]:
    """A numpy array as JSON-ready Python values (NaN becomes None)."""
    if values.dtype.kind == "f":
        return [None if v != v else float(v) for v in values.tolist()]
    return values.tolist()
