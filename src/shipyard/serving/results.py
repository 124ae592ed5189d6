"""What the engine returns for one request, before a protocol codec turns it into a response.

Codecs (native JSON, MLflow, Open Inference Protocol) only ever see these types, so validation, batching and
logging live once in the engine and never in a protocol.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from shipyard.ids import prediction_id

#: Which arm of a rollout answered: ``stable`` (also when no rollout runs), ``canary`` (the candidate
#: answering live traffic) or ``shadow`` (the candidate answering a mirrored copy, never returned).
Arm = Literal["stable", "canary", "shadow"]
#: What a shadow answer's prediction ids add to the ids of the answer the client got.
SHADOW_SUFFIX = "-shadow"


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
    #: The arm of a rollout that answered (sent back as ``X-Shipyard-Arm`` and logged with the rows).
    arm: Arm = "stable"
    #: While a shadow rollout runs: the candidate's answer to a copy of this request, on its way (None
    #: when the copy was dropped because too many were in flight or the candidate went away).
    shadow: asyncio.Task[ShadowAnswer | None] | None = field(default=None, repr=False, compare=False)

    @property
    def prediction_ids(self) -> list[str]:
        """One id per row, ``<request id>-<row>``: what late ground truth is attached to. A shadow answer's
        ids end in ``-shadow``: labels sent for the ids the client saw attach to the answer it got."""
        suffix = SHADOW_SUFFIX if self.arm == "shadow" else ""
        return [prediction_id(self.request_id, row) + suffix for row in range(len(self.predictions))]


@dataclass(frozen=True)
class ShadowAnswer:
    """How the candidate answered a mirrored copy of a request: its result, or the error it raised."""

    version: int
    rows: int
    seconds: float
    result: PredictionResult | None = None
    error: BaseException | None = None


def to_plain(values: np.ndarray) -> list[Any]:
    """A numpy array as JSON-ready Python values (NaN becomes None)."""
    if values.dtype.kind == "f":
        return [None if v != v else float(v) for v in values.tolist()]
    return values.tolist()
