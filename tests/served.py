"""Rows served as the server serves them: answered by the model and made into the record its log writes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from shipyard.ids import new_request_id, prediction_id
from shipyard.predictions import PredictionRecord
from shipyard.registry import ModelVersion


def served_record(
    model: Any, version: ModelVersion, rows: pd.DataFrame, at: datetime, latency: float = 0.002
) -> PredictionRecord:
    """``rows`` answered by ``model`` (``version`` loaded) as one request at ``at``, as the log records it."""
    labels, probabilities = model.predict_with_proba(rows)
    request = new_request_id(at)
    ids = [prediction_id(request, i) for i in range(len(rows))]
    return PredictionRecord(
        request,
        ids,
        at,
        version.model,
        version.version,
        "native",
        rows,
        np.asarray(labels),
        probabilities,
        latency,
    )
