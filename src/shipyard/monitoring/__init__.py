"""Monitoring: late ground truth attached to logged predictions by prediction id."""

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
