"""The metrics training, gates and monitoring report, chosen by task, computed the same way everywhere.

Each metric is a function of (true labels, predictions, probabilities, classes). For binary classification
precision, recall and F1 are about the positive class (the second of the sorted classes, e.g. 1 or "yes"),
and ROC AUC uses its probability; with more classes they are macro averages and ROC AUC is one-vs-rest.
A metric that is undefined on the data (ROC AUC on a slice holding one class) is None, not an exception.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import metrics as sk

from shipyard.errors import InvalidInput

Task = str  # "classification" | "regression"


@dataclass(frozen=True)
class Metric:
    """A named metric; ``greater_is_better`` tells gates which way a regression goes."""

    name: str
    task: Task
    greater_is_better: bool
    needs_proba: bool
    compute: Callable[[np.ndarray, np.ndarray, np.ndarray | None, Sequence[Any]], float]


def _binary(classes: Sequence[Any]) -> bool:
    return len(classes) == 2


def _average(classes: Sequence[Any]) -> dict[str, Any]:
    if _binary(classes):
        return {"average": "binary", "pos_label": classes[1]}
    return {"average": "macro"}


def _roc_auc(y: np.ndarray, _pred: np.ndarray, proba: np.ndarray | None, classes: Sequence[Any]) -> float:
    assert proba is not None
    if _binary(classes):
        return float(sk.roc_auc_score(y == classes[1], proba[:, 1]))
    return float(sk.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=list(classes)))


def _log_loss(y: np.ndarray, _pred: np.ndarray, proba: np.ndarray | None, classes: Sequence[Any]) -> float:
    assert proba is not None
    return float(sk.log_loss(y, proba, labels=list(classes)))


CLASSIFICATION_METRICS: dict[str, Metric] = {
    "accuracy": Metric(
        "accuracy", "classification", True, False, lambda y, p, _, c: float(sk.accuracy_score(y, p))
    ),
    "balanced_accuracy": Metric(
        "balanced_accuracy",
        "classification",
        True,
        False,
        lambda y, p, _, c: float(sk.balanced_accuracy_score(y, p)),
    ),
    "precision": Metric(
        "precision",
        "classification",
        True,
        False,
        lambda y, p, _, c: float(sk.precision_score(y, p, zero_division=0, **_average(c))),
    ),
    "recall": Metric(
        "recall",
        "classification",
        True,
        False,
        lambda y, p, _, c: float(sk.recall_score(y, p, zero_division=0, **_average(c))),
    ),
    "f1": Metric(
        "f1",
        "classification",
        True,
        False,
        lambda y, p, _, c: float(sk.f1_score(y, p, zero_division=0, **_average(c))),
    ),
    "roc_auc": Metric("roc_auc", "classification", True, True, _roc_auc),
    "log_loss": Metric("log_loss", "classification", False, True, _log_loss),
}

REGRESSION_METRICS: dict[str, Metric] = {
    "rmse": Metric(
        "rmse", "regression", False, False, lambda y, p, _, c: float(math.sqrt(sk.mean_squared_error(y, p)))
    ),
    "mae": Metric("mae", "regression", False, False, lambda y, p, _, c: float(sk.mean_absolute_error(y, p))),
    "r2": Metric("r2", "regression", True, False, lambda y, p, _, c: float(sk.r2_score(y, p))),
    "mape": Metric(
        "mape", "regression", False, False, lambda y, p, _, c: float(sk.mean_absolute_percentage_error(y, p))
    ),
}

DEFAULT_METRICS = {
    "classification": ["accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"],
    "regression": ["rmse", "mae", "r2"],
}


def metrics_for(task: Task) -> dict[str, Metric]:
    return CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS


def get_metric(name: str) -> Metric:
    """A metric by name, whatever its task."""
    known = {**CLASSIFICATION_METRICS, **REGRESSION_METRICS}
    if name not in known:
        from shipyard.errors import not_found

        raise not_found("metric", name, candidates=known)
    return known[name]


def resolve_metrics(task: Task, names: Sequence[str] | None) -> list[Metric]:
    """The metrics to compute: the task's defaults, or the named ones (checked against the task)."""
    available = metrics_for(task)
    chosen = list(names) if names else DEFAULT_METRICS[task]
    unknown = [name for name in chosen if name not in available]
    if unknown:
        raise InvalidInput(
            f"unknown {task} metric(s) {', '.join(repr(n) for n in unknown)}; "
            f"available: {', '.join(available)}"
        )
    return [available[name] for name in chosen]


def compute_metrics(
    metrics: Sequence[Metric],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray | None = None,
    classes: Sequence[Any] = (),
) -> dict[str, float | None]:
    """Every metric on one set of predictions; None where it is undefined (one class, no probabilities)."""
    results: dict[str, float | None] = {}
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    for metric in metrics:
        if metric.needs_proba and proba is None:
            results[metric.name] = None
            continue
        if metric.task == "classification" and metric.name in {"roc_auc"} and len(np.unique(y_true)) < 2:
            results[metric.name] = None
            continue
        if len(y_true) == 0:
            results[metric.name] = None
            continue
        try:
            value = metric.compute(y_true, y_pred, proba, classes)
        except ValueError:
            value = None
        results[metric.name] = value if value is None or math.isfinite(value) else None
    return results
