"""The data a gate judges on: one set of rows, scored by the candidate and by the current alias holder.

Both models see exactly the same rows — those of the evaluation data that both contracts accept — so
every comparison is paired. Metrics come from ``shipyard.training.metrics``, computed the same way as at
training time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipyard.flavors.base import LoadedModel
from shipyard.training.metrics import compute_metrics, get_metric


@dataclass(frozen=True)
class Scored:
    """One model's predictions on the evaluation rows."""

    model: LoadedModel
    predicted: np.ndarray
    proba: np.ndarray | None
    classes: list[Any]

    @classmethod
    def score(cls, model: LoadedModel, features: pd.DataFrame, task: str) -> Scored:
        predicted = np.asarray(model.predict(features))
        proba = (
            np.asarray(model.predict_proba(features))
            if task == "classification" and model.has_proba
            else None
        )
        classes = list(model.describe().classes or []) if task == "classification" else []
        return cls(model, predicted, proba, classes)


@dataclass(frozen=True)
class Evaluation:
    task: str
    features: list[str]
    frame: pd.DataFrame
    target: np.ndarray
    candidate: Scored
    champion: Scored | None

    @property
    def rows(self) -> int:
        return len(self.frame)

    def metric(self, scored: Scored, name: str, rows: np.ndarray | None = None) -> float | None:
        """``name`` of one model's predictions, on all rows or on the given row positions."""
        metric = get_metric(name)
        if rows is None:
            rows = np.arange(self.rows)
        proba = None if scored.proba is None else scored.proba[rows]
        return compute_metrics([metric], self.target[rows], scored.predicted[rows], proba, scored.classes)[
            name
        ]


def score_vector(model: LoadedModel, features: pd.DataFrame, task: str) -> np.ndarray:
    """One number per row that behavioural tests compare: P(positive class) for binary classifiers, the
    maximum class probability for multiclass ones, the predicted value for regressors."""
    if task == "classification" and model.has_proba:
        proba = np.asarray(model.predict_proba(features), dtype=float)
        return proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)
    return np.asarray(model.predict(features), dtype=float)
