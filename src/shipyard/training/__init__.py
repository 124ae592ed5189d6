"""Training from a declared spec, with cross-validation, hold-out evaluation, slices and reproduction."""

from shipyard.training.metrics import DEFAULT_METRICS, Metric, compute_metrics, get_metric, resolve_metrics
from shipyard.training.report import FoldResult, SliceResult, TrainingReport
from shipyard.training.reproduce import MetricComparison, Reproduction, reproduce
from shipyard.training.spec import TrainSpec
from shipyard.training.trainer import PREDICTION_COLUMN, SCORE_COLUMN, TrainingResult, train

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
