"""Monitoring: windows of the prediction log measured against the version's reference, kept as a series.

* ``windows`` — one window of one version: drift of inputs and outputs, data quality, accuracy against late
  labels, and service health (``service``: failed requests, CPU and memory);
* ``series`` — running monitors over a time range and storing each window's report and figures;
* ``figures`` — the catalogue of figure names that alert rules and dashboards refer to;
* ``feedback`` — late ground truth attached to logged predictions by prediction id (re-exported here);
* ``contract_quality`` — data quality counted from the data contract alone, for a version with no profile;
* ``report`` — a shareable HTML drift report, headed by the per-window verdicts;
* ``charts`` — the report's charts as inline SVG (bars, lines over windows, the verdict grid), no script.

The runner that does this every minute beside a server, and evaluates the alert rules after, is
``shipyard.monitor_runner``: it sits above monitoring and alerts, which reads these figures.

The feedback names are imported on first use: alert rules read ``figures`` and a server's supervisor
parses windows here without loading pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard._lazy_exports import lazy_exports

if TYPE_CHECKING:
    from shipyard.monitoring.feedback import (
        FeedbackReport,
        LabelOutcome,
        attach_labels,
        feedback_pairs,
        feedback_table,
        labels_for,
    )

__all__ = [
    "FeedbackReport",
    "LabelOutcome",
    "attach_labels",
    "feedback_pairs",
    "feedback_table",
    "labels_for",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(__name__, {"shipyard.monitoring.feedback": __all__})
