"""Each arm's figures cut from a real prediction log: requests, errors, rows the contract refused, p99
latency, predictions and scores, labels from the feedback service, and shadow answers paired with the
stable answers to the same rows."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from shipyard import Registry
from shipyard.monitoring.feedback import attach_labels
from shipyard.predictions import PredictionLog
from shipyard.rollouts.figures import arm_figures, pair_figures, step_figures
from tests.models import classification_frame, tiny_classifier
from tests.predictions.conftest import record
from tests.rollouts.traffic import answered, failed, shadows, write

AT = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
WINDOW = (AT, AT + timedelta(minutes=1))


@pytest.fixture
def url(tmp_path: Path) -> str:
    return str(tmp_path / "logs")


def test_an_arm_counts_its_own_requests_rows_errors_and_refusals(url: str) -> None:
    slow = [
        dataclasses.replace(item, latency_seconds=0.5) for item in answered(2, version=2, arm="canary", at=AT)
    ]
    three_rows = dataclasses.replace(record(3, version=2, at=AT), arm="canary")
    write(
        url,
        answered(97, version=2, arm="canary", at=AT)
        + slow
        + [three_rows]
        + answered(40, version=1, arm="stable", at=AT),
        failed(4, version=2, arm="canary", at=AT) + failed(2, version=2, arm="canary", at=AT, status=422),
    )
    canary = arm_figures(PredictionLog(url), "fraud", 2, "canary", *WINDOW)
    assert (canary.requests, canary.errors, canary.rows, canary.rejected_rows) == (106, 4, 108, 2)
    assert canary.latency_p99_ms == pytest.approx(np.percentile([2.0] * 98 + [500.0] * 2, 99), rel=1e-3)
    assert canary.predictions is not None and len(canary.predictions) == 102
    assert canary.scores is not None and set(np.unique(canary.scores)) <= {0.0, 0.8}
    stable = arm_figures(PredictionLog(url), "fraud", 1, "stable", *WINDOW)
    assert (stable.requests, stable.errors, stable.rows) == (40, 0, 40)


def test_rows_outside_the_window_or_of_another_arm_do_not_count(url: str) -> None:
    write(
        url,
        answered(5, version=2, arm="canary", at=AT - timedelta(seconds=1))
        + answered(5, version=2, arm="stable", at=AT)  # the candidate served directly, not in the rollout
        + answered(3, version=2, arm="canary", at=AT + timedelta(minutes=1)),
    )
    figures = arm_figures(PredictionLog(url), "fraud", 2, "canary", *WINDOW)
    assert (figures.requests, figures.rows, figures.predictions, figures.latency_p99_ms) == (0, 0, None, None)
    nothing = arm_figures(PredictionLog(url), "churn", 1, "stable", *WINDOW)  # a model never logged
    assert nothing.requests == 0


def test_labels_judge_each_arm_and_a_shadow_answer_by_its_stable_twin(registry: Registry, url: str) -> None:
    frame, _ = classification_frame()
    registry.register("fraud", tiny_classifier(), reference=frame)
    stable = answered(30, version=1, arm="stable", at=AT)
    write(url, stable + shadows(stable, version=1, flip=True))
    log = PredictionLog(url)
    truths = [(item.prediction_ids[0], int(item.predictions[0])) for item in stable[:20]]
    report = attach_labels(registry, log, truths, settle_seconds=0)
    assert report.counts["attached"] == 20
    figures = step_figures(
        registry, log, model="fraud", stable=1, candidate=1, strategy="shadow", window=WINDOW
    )
    assert (figures.stable.labelled, figures.stable.correct) == (20, 20)
    assert (figures.candidate.labelled, figures.candidate.correct) == (20, 0)  # it flipped every label


def test_shadow_answers_pair_with_the_stable_answers_to_the_same_rows(url: str) -> None:
    stable = answered(10, version=1, arm="stable", at=AT)
    mirrored = shadows(stable[:8], version=3)  # two copies were dropped: no pair
    write(url, stable + mirrored[:4] + shadows(stable[4:8], version=3, flip=True))
    pairs = pair_figures(PredictionLog(url), "fraud", 1, 3, *WINDOW)
    assert (pairs.pairs, pairs.agreement) == (8, 0.5)
    assert pairs.mean_abs_score_difference is not None and pairs.mean_abs_score_difference > 0.3


def test_a_regressor_pairs_by_the_difference_of_its_values(url: str) -> None:
    stable = [
        dataclasses.replace(item, predictions=np.array([10.0 + index]), probabilities=None)
        for index, item in enumerate(answered(4, version=1, arm="stable", at=AT))
    ]
    mirrored = [
        dataclasses.replace(item, predictions=item.predictions + 0.5) for item in shadows(stable, version=2)
    ]
    write(url, stable + mirrored)
    pairs = pair_figures(PredictionLog(url), "fraud", 1, 2, *WINDOW)
    assert (pairs.pairs, pairs.agreement, pairs.mean_abs_score_difference) == (4, None, 0.5)
