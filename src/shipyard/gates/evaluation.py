"""The data a gate judges on: one set of rows, scored by the candidate and by the current alias holder.

Both models see exactly the same rows — those of the evaluation data that both contracts accept — so
every comparison is paired. When the current alias holder cannot score them (its schema differs, its
artifact does not load, it raises), the evaluation holds the candidate's rows alone and the reason, and
the comparison checks report "not comparable". Metrics come from ``shipyard.training.metrics``, computed
the same way as at training time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipyard.contracts import Contract
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
        """Predict every row; whatever the model raises propagates, and so does a wrong number of rows."""
        predicted = np.asarray(model.predict(features))
        proba = (
            np.asarray(model.predict_proba(features))
            if task == "classification" and model.has_proba
            else None
        )
        for output in (predicted, proba):
            if output is not None and (output.ndim == 0 or len(output) != len(features)):
                size = 1 if output.ndim == 0 else len(output)
                raise ValueError(f"it returned {size} predictions for {len(features)} rows")
        classes = list(model.describe().classes or []) if task == "classification" else []
        return cls(model, predicted, proba, classes)

    def take(self, rows: np.ndarray) -> Scored:
        """The predictions of the given row positions only."""
        proba = None if self.proba is None else self.proba[rows]
        return Scored(self.model, self.predicted[rows], proba, self.classes)

    def metric(self, name: str, target: np.ndarray, rows: np.ndarray | None = None) -> float | None:
        """``name`` of these predictions against ``target``, on all rows or the given row positions."""
        if rows is None:
            rows = np.arange(len(target))
        proba = None if self.proba is None else self.proba[rows]
        return compute_metrics([get_metric(name)], target[rows], self.predicted[rows], proba, self.classes)[
            name
        ]


@dataclass(frozen=True)
class Evaluation:
    task: str
    features: list[str]
    frame: pd.DataFrame
    target: np.ndarray
    candidate: Scored
    champion: Scored | None
    not_comparable: str = ""  # why the current alias holder's predictions are missing, when it exists

    @property
    def rows(self) -> int:
        return len(self.frame)

    def metric(self, scored: Scored, name: str, rows: np.ndarray | None = None) -> float | None:
        """``name`` of one model's predictions, on all rows or on the given row positions."""
        return scored.metric(name, self.target, rows)


def score_vector(model: LoadedModel, features: pd.DataFrame, task: str) -> np.ndarray:
    """One number per row that behavioural tests compare: P(positive class) for binary classifiers, the
    maximum class probability for multiclass ones, the predicted value for regressors."""
    if task == "classification" and model.has_proba:
        proba = np.asarray(model.predict_proba(features), dtype=float)
        return proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)
    return np.asarray(model.predict(features), dtype=float)


@dataclass(frozen=True)
class RowsAccepted:
    """Which evaluation rows a model's data contract accepts."""

    usable: np.ndarray  # one bool per row
    whole: bool  # the data as a whole breaks it (a missing column, say): no row is usable
    summary: str  # what broke, for people; empty when nothing did

    @property
    def left_out(self) -> int:
        return int((~self.usable).sum())


def rows_accepted(input_schema: Mapping[str, Any] | None, frame: pd.DataFrame) -> RowsAccepted:
    """The rows a version's contract accepts (every row when it has none)."""
    everything = np.ones(len(frame), dtype=bool)
    if input_schema is None:
        return RowsAccepted(everything, False, "")
    outcome = Contract.from_dict(input_schema).validate(frame, mode="split")
    if outcome.ok:
        return RowsAccepted(everything, False, "")
    problems = outcome.problems
    if (problems["row"] < 0).any():
        return RowsAccepted(np.zeros(len(frame), dtype=bool), True, outcome.summary(limit=3))
    everything[problems["row"].unique()] = False
    return RowsAccepted(everything, False, outcome.summary(limit=3))
