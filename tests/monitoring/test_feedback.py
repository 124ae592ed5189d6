"""Late ground truth: labels attached by prediction id, every row reported, nothing else dropped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from shipyard import Registry
from shipyard.errors import InvalidInput
from shipyard.monitoring import attach_labels, feedback_pairs, feedback_table, labels_for
from shipyard.predictions import LogWriter, PredictionLog, PredictionRecord
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
