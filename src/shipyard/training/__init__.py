"""Training from a declared spec, with cross-validation, hold-out evaluation, slices and reproduction.

The trainer loads scikit-learn's model selection: it is imported on first use (``train``), so a
process that only needs the task metrics (``shipyard.training.metrics``, which gates and monitors share)
never loads the trainer.
"""

from typing import TYPE_CHECKING, Any

from shipyard.predictions.records import PREDICTION_COLUMN, SCORE_COLUMN
from shipyard.training.metrics import DEFAULT_METRICS, Metric, compute_metrics, get_metric, resolve_metrics
from shipyard.training.report import FoldResult, SliceResult, TrainingReport
from shipyard.training.reproduce import MetricComparison, Reproduction, reproduce
from shipyard.training.spec import TrainSpec

if TYPE_CHECKING:
    from shipyard.training.trainer import TrainingResult, train

_LAZY = {"TrainingResult", "train"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from shipyard.training import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module 'shipyard.training' has no attribute {name!r}")


__all__ = [
    "DEFAULT_METRICS",
    "PREDICTION_COLUMN",
    "SCORE_COLUMN",
    "FoldResult",
    "Metric",
    "MetricComparison",
    "Reproduction",
    "SliceResult",
    "TrainSpec",
    "TrainingReport",
    "TrainingResult",
    "compute_metrics",
    "get_metric",
    "reproduce",
    "resolve_metrics",
    "train",
]
