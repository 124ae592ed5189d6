"""Every figure a monitoring window stores, by name: what alert rules and dashboards may refer to.

A figure is either of the whole window (``health.error_rate``, ``drift.share``) or of one column
(``drift.score`` of ``amount``, ``quality.missing_rate`` of ``channel``). ``series._figures`` writes only
names from this catalogue; a test holds them to it.
"""

from __future__ import annotations

from dataclasses import fields

from shipyard.monitoring.windows import FeatureQuality
from shipyard.predictions.events import FAILURE_KINDS
from shipyard.training.metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS

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
)
#: Per-column drift figures: the verdict, the deciding score, and every method's score.
DRIFT_SCORES = (
    "score",
    "drifted",
    "psi",
    "wasserstein",
    "ks",
    "ks_p_value",
    "jensen_shannon",
    "chi_square",
    "chi_square_p_value",
)


def catalogue() -> dict[str, bool]:
    """Every figure name, and whether it is of a column (True) or of the whole window (False)."""
    figures = dict.fromkeys(
        ("rows", "requests", "estimated_requests", "failed_requests", "labelled_rows"), False
    )
    figures.update({f"failures.{kind}": False for kind in FAILURE_KINDS})
    for prefix in ("drift", "output_drift"):
        figures.update({f"{prefix}.share": False, f"{prefix}.dataset": False})
        figures.update({f"{prefix}.{score}": True for score in DRIFT_SCORES})
    figures.update({f"quality.{field.name}": True for field in fields(FeatureQuality)})
    metrics = {**CLASSIFICATION_METRICS, **REGRESSION_METRICS}
    figures.update({f"accuracy.{name}": False for name in metrics})
    figures.update({f"health.{name}": False for name in HEALTH})
    return figures
