"""Late ground truth: labels attached by prediction id, every row reported, nothing else dropped."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from shipyard import Registry
from shipyard.errors import InvalidInput
from shipyard.ids import new_request_id, prediction_id
from shipyard.monitoring import attach_labels, feedback_pairs, feedback_table, labels_for
from shipyard.predictions import LogWriter, PredictionLog, PredictionRecord, Segment, SegmentStore
from tests.predictions.conftest import record


@pytest.fixture
def logged(registry: Registry, tmp_path: Path) -> tuple[PredictionLog, list[PredictionRecord]]:
    """fraud/1 (a classifier of 0/1) and price/1 (a regressor), each with logged predictions."""
    features = np.random.default_rng(0).normal(size=(40, 3))
    registry.register("fraud", LogisticRegression().fit(features, np.arange(40) % 2))
    registry.register("price", LinearRegression().fit(features, features[:, 0]))
    url = str(tmp_path / "logs")
    writer = LogWriter(url, flush_seconds=60)
    records = [record(3, seed=1), record(2, model="price", proba=False, seed=2)]
    for item in records:
        writer.submit(item)
    writer.close()
    return PredictionLog(url), records


def test_labels_attach_once_and_every_row_gets_its_outcome(
    registry: Registry, logged: tuple[PredictionLog, list[PredictionRecord]]
) -> None:
    log, (fraud, price) = logged
    first = attach_labels(
        registry,
        log,
        [
            (fraud.prediction_ids[0], 1),
            (fraud.prediction_ids[1], "0"),  # text naming a class is that class
            (price.prediction_ids[0], 12.5),
            ("0" * 32 + "-0", 1),
            ("not an id", 1),
            (fraud.prediction_ids[2], "maybe"),
            (None, 1),
            (price.prediction_ids[1], "cheap"),
            (fraud.prediction_ids[2], float("nan")),
        ],
        settle_seconds=0,
    )
    assert [outcome.status for outcome in first.outcomes] == [
        "attached",
        "attached",
        "attached",
        "unknown",
        "unknown",
        "invalid",
        "invalid",
        "invalid",
        "invalid",
    ]
    messages = {outcome.row: outcome.message for outcome in first.outcomes}
    assert "not one of the classes of fraud/1: 0, 1" in messages[5]
    assert "prediction_id must be a non-empty string" in messages[6]
    assert "regression model" in messages[7] and "finite number" in messages[8]
    assert first.counts == {"attached": 3, "duplicate": 0, "updated": 0, "unknown": 2, "invalid": 4}

    again = attach_labels(
        registry, log, [(fraud.prediction_ids[0], 1), (fraud.prediction_ids[1], 1)], settle_seconds=0
    )
    assert [outcome.status for outcome in again.outcomes] == ["duplicate", "updated"]
    stored = {pid: label for pid, label, _ in labels_for(registry, "fraud", 1)}
    assert stored == {fraud.prediction_ids[0]: 1, fraud.prediction_ids[1]: 1}
    assert labels_for(registry, "price", 1)[0][1] == 12.5

    table = feedback_table(registry)
    assert table.num_rows == 3 and set(table["label"].to_pylist()) == {"1", "12.5"}


def test_feedback_bodies_take_two_shapes_and_refuse_others() -> None:
    rows = {"labels": [{"prediction_id": "a", "label": 1}, 5]}
    assert feedback_pairs(rows) == [("a", 1), (None, 5)]
    assert feedback_pairs({"prediction_ids": ["a", "b"], "labels": [0, 1]}) == [("a", 0), ("b", 1)]
    for bad in ([], {"ids": []}, {"labels": 3}, {"prediction_ids": ["a"], "labels": [1, 2]}):
        with pytest.raises(InvalidInput):
            feedback_pairs(bad)


def test_an_id_given_twice_is_judged_row_by_row_and_its_last_valid_label_is_stored(
    registry: Registry, logged: tuple[PredictionLog, list[PredictionRecord]]
) -> None:
    log, (fraud, _) = logged
    first, second, third = fraud.prediction_ids
    report = attach_labels(
        registry,
        log,
        [
            (first, 1),
            (second, 0),
            (third, 1),
            (first, "maybe"),  # not a class: refused alone, the valid label before it stands
            (second, 1),  # a correction within the same submission
            (third, 1),
            (second, None),
        ],
        settle_seconds=0,
    )
    assert [(outcome.row, outcome.status) for outcome in report.outcomes] == [
        (0, "attached"),
        (1, "attached"),
        (2, "attached"),
        (3, "invalid"),
        (4, "updated"),
        (5, "duplicate"),
        (6, "invalid"),
    ]
    assert "not one of the classes" in report.outcomes[3].message
    stored = {pid: label for pid, label, _ in labels_for(registry, "fraud", 1)}
    assert stored == {first: 1, second: 1, third: 1}

    again = attach_labels(registry, log, [(first, 0), (first, 1)], settle_seconds=0)
    assert [outcome.status for outcome in again.outcomes] == ["updated", "updated"]
    assert {pid: label for pid, label, _ in labels_for(registry, "fraud", 1)}[first] == 1


def test_labels_over_many_hours_read_each_segment_once(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A submission spanning hours costs one pass over the segments it needs, not one per hour."""
    features = np.random.default_rng(0).normal(size=(40, 3))
    registry.register("fraud", LogisticRegression().fit(features, np.arange(40) % 2))
    url = str(tmp_path / "logs")
    writer = LogWriter(url, flush_seconds=60)
    start = datetime.now(UTC) - timedelta(hours=30)
    records = [_made_at(record(3, seed=hour), start + timedelta(hours=hour)) for hour in range(24)]
    old = _made_at(record(2, seed=99), start - timedelta(hours=5))  # an hour no label names: never read
    for item in [*records, old]:
        writer.submit(item)
    writer.close()
    log = PredictionLog(url)
    read: list[str] = []
    real_read = SegmentStore.read

    def counted(store: SegmentStore, segment: Segment, columns: list[str] | None = None) -> object:
        read.append(segment.path)
        return real_read(store, segment, columns)

    monkeypatch.setattr(SegmentStore, "read", counted)
    pairs = [(pid, 1) for item in records for pid in item.prediction_ids]
    report = attach_labels(registry, log, pairs, settle_seconds=0)
    assert report.counts["attached"] == 72
    assert len(read) == len(set(read)) == 24  # each needed hour's segment once; the unnamed hour not at all


def test_progress_follows_reading_and_storing(
    registry: Registry, logged: tuple[PredictionLog, list[PredictionRecord]]
) -> None:
    log, (fraud, _) = logged
    seen: list[tuple[str, int, int]] = []
    attach_labels(
        registry,
        log,
        [(pid, 1) for pid in fraud.prediction_ids],
        settle_seconds=0,
        progress=lambda stage, done, total: seen.append((stage, done, total)),
    )
    assert seen[0] == ("reading", 0, 5) and ("reading", 5, 5) in seen  # rows of the segments read
    assert seen[-1] == ("storing", 3, 3)


def test_an_interrupted_submission_stores_nothing_and_a_second_one_counts_once(
    registry: Registry, logged: tuple[PredictionLog, list[PredictionRecord]]
) -> None:
    log, (fraud, _) = logged
    pairs = [(pid, 1) for pid in fraud.prediction_ids]

    def interrupt(stage: str, done: int, total: int) -> None:
        if stage == "storing" and done:  # rows written, the transaction not committed yet: Ctrl-C
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        attach_labels(registry, log, pairs, settle_seconds=0, progress=interrupt)
    assert labels_for(registry, "fraud", 1) == [] and feedback_table(registry).num_rows == 0

    assert attach_labels(registry, log, pairs, settle_seconds=0).counts["attached"] == 3
    assert attach_labels(registry, log, pairs, settle_seconds=0).counts["duplicate"] == 3
    assert len(labels_for(registry, "fraud", 1)) == 3 and feedback_table(registry).num_rows == 3


def _made_at(item: PredictionRecord, at: datetime) -> PredictionRecord:
    """The record as a server would have logged it at ``at``: its ids carry that time."""
    request = new_request_id(at)
    identifiers = [prediction_id(request, row) for row in range(len(item.prediction_ids))]
    return replace(item, request_id=request, prediction_ids=identifiers, at=at)
