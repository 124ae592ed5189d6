"""The feedback repository's reads: the labels of one model version in a window, as rows or as columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shipyard import Registry
from shipyard.store.feedback import FeedbackRepository, LabelColumns, NewLabel
from tests.models import tiny_classifier

START = datetime(2026, 11, 30, 10, tzinfo=UTC)


def _stored(registry: Registry) -> FeedbackRepository:
    """fraud/1 and fraud/2 registered; labels of fraud/1 before, inside and at the end of the window
    [START, START + 1 h), and one of fraud/2 inside it."""
    registry.register("fraud", tiny_classifier())
    registry.register("fraud", tiny_classifier(seed=1))
    at = {"early": START - timedelta(seconds=1), "first": START, "last": START + timedelta(minutes=59)}
    labels = {
        "p-early": NewLabel("fraud", 1, at["early"], "0"),
        "p-first": NewLabel("fraud", 1, at["first"], "1"),
        "p-last": NewLabel("fraud", 1, at["last"], '"churn"'),
        "p-end": NewLabel("fraud", 1, START + timedelta(hours=1), "1"),
        "p-other": NewLabel("fraud", 2, at["first"], "true"),
    }
    repository = FeedbackRepository(registry.db)
    repository.store(labels, source="test", received_at=START + timedelta(days=1))
    return repository


def test_label_columns_hold_the_ids_and_labels_that_labels_of_reads(registry: Registry) -> None:
    repository = _stored(registry)
    window = (START, START + timedelta(hours=1))
    columns = repository.label_columns("fraud", 1, *window)
    assert sorted(zip(*columns, strict=True)) == [("p-first", "1"), ("p-last", '"churn"')]
    rows = repository.labels_of("fraud", 1, *window)
    assert sorted(zip(*columns, strict=True)) == sorted((identifier, label) for identifier, label, _ in rows)
    assert sorted(repository.label_columns("fraud", 1).prediction_ids) == [
        "p-early",
        "p-end",
        "p-first",
        "p-last",
    ]
    assert repository.label_columns("fraud", 2, *window) == LabelColumns(["p-other"], ["true"])


def test_label_columns_of_an_unknown_model_or_version_are_empty(registry: Registry) -> None:
    repository = _stored(registry)
    assert repository.label_columns("churn", 1) == LabelColumns([], [])
    assert repository.label_columns("fraud", 7) == LabelColumns([], [])
