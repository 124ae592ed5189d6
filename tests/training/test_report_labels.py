"""The training report names each class the same way on both axes of its confusion matrix."""

from __future__ import annotations

from typing import Any

import pytest

from shipyard.training.report import TrainingReport


def _report(labels: list[Any]) -> TrainingReport:
    return TrainingReport(
        model="fraud",
        task="classification",
        target="fraud",
        features=["amount"],
        classes=labels,
        strategy="stratified",
        datasets={"data": "tx/1"},
        train_rows=8,
        holdout_rows=4,
        folds=[],
        holdout={},
        slices=[],
        confusion={"labels": labels, "matrix": [[2, 0], [1, 1]]},
        fit_seconds=0.1,
        predict_ms_per_row=0.01,
        single_row_ms=0.5,
    )


@pytest.mark.parametrize(
    ("labels", "shown"),
    [([0.0, 1.0], ["0.0", "1.0"]), ([0, 1], ["0", "1"]), (["legit", "fraud"], ["legit", "fraud"])],
)
def test_the_confusion_matrix_labels_rows_and_columns_alike(labels: list[Any], shown: list[str]) -> None:
    report = _report(labels)
    assert report.confusion_labels == shown
    markdown = report.to_markdown().split("### Confusion matrix", 1)[1].splitlines()
    header, rows = markdown[2], markdown[4:6]
    assert header == "| | " + " | ".join(shown) + " |"
    assert [row.split(" | ")[0] for row in rows] == [f"| **{label}**" for label in shown]
