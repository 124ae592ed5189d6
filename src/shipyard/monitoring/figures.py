"""Every figure a monitoring window stores, by name: what alert rules and dashboards may refer to.

A figure is either of the whole window (``health.error_rate``, ``drift.share``) or of one column
(``drift.distance`` of ``amount``, ``quality.missing_rate`` of ``channel``). ``series._figures`` writes only
names from this catalogue; a test holds them to it.

The catalogue is a list of names, not a computation: alert rules are checked against it in the server
process, which must not load the trainer (scikit-learn's metrics) nor the window computations to do so.
The names it repeats from them — quality figures, accuracy metrics, output columns — are held to their
sources by tests.
"""

from __future__ import annotations

from shipyard.predictions.names import FAILURE_KINDS

HEALTH = (
    "request_rate",
    "error_rate",
    "rejected_rate",
    "rows_per_request",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "batch_rows_p50",
    "batch_rows_p95",
    "cpu_percent",
    "memory_bytes",
    "memory_peak_bytes",
    "processes",
    "log_dropped_rows",
)
#: Per-column drift figures: the verdict, the deciding method's p-value (a test decided: low = drift) or
#: distance (a distance decided: high = drift) — each window has one of the two — and every method's score.
DRIFT_SCORES = (
    "drifted",
    "p_value",
    "distance",
    "psi",
    "wasserstein",
    "ks",
    "ks_p_value",
    "jensen_shannon",
    "chi_square",
    "chi_square_p_value",
)
#: Per-column data quality figures: the fields of ``windows.FeatureQuality``.
QUALITY = (
    "missing_rate",
    "out_of_range_share",
    "unseen_share",
    "reference_unseen_share",
    "rejected_rows",
    "rejected_share",
)
#: Accuracy figures, once labels arrive: the training metrics of both tasks.
ACCURACY = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "log_loss",
    "rmse",
    "mae",
    "r2",
    "mape",
)
#: The model's outputs, as columns of the reference profile (the trainer adds them): the prediction, and
#: a binary classifier's score. ``output_drift.*`` figures are of these columns.


#: Figures that no longer exist, and why: a rule naming one is refused with what to use instead.
RETIRED = {
    f"{prefix}.score": (
        "it was a p-value (low = drift) in windows of 1,000 rows or fewer and a distance (high = drift) in "
        "larger ones"
    )
    for prefix in ("drift", "output_drift")
}


def catalogue() -> dict[str, bool]:
    """Every figure name, and whether it is of a column (True) or of the whole window (False)."""
    figures = dict.fromkeys(
        ("rows", "requests", "estimated_requests", "failed_requests", "labelled_rows"), False
    )
    figures.update({f"failures.{kind}": False for kind in FAILURE_KINDS})
    for prefix in ("drift", "output_drift"):
        figures.update({f"{prefix}.share": False, f"{prefix}.dataset": False})
        figures.update({f"{prefix}.{score}": True for score in DRIFT_SCORES})
    figures.update({f"quality.{name}": True for name in QUALITY})
    figures.update({f"accuracy.{name}": False for name in ACCURACY})
    figures.update({f"health.{name}": False for name in HEALTH})
    return figures
