"""An A/B test's verdict with confidence: Newcombe's interval checked against the published worked examples
and scipy's Wilson intervals, better / worse / no difference by the interval, the plan's confidence, and
the verdict stored with the final analysis where history, the Python API and the CLI show it."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path

import pytest
from scipy.stats import binomtest

from shipyard import Registry
from shipyard.cli import main
from shipyard.errors import InvalidInput
from shipyard.predictions import PredictionLog
from shipyard.rollouts import RolloutPlan, advance
from shipyard.rollouts import service as rollouts
from shipyard.rollouts.analysis import Analysis, ArmFigures, analyse
from shipyard.rollouts.controller import step_clock
from shipyard.rollouts.plan import DEFAULT_CHECKS
from shipyard.rollouts.verdict import ab_verdict, newcombe_interval, wilson_interval
from tests.models import classification_frame, tiny_classifier
from tests.rollouts.traffic import answered, failed, write

# The interval.


@pytest.mark.parametrize(
    ("first", "second", "low", "high"),
    [
        ((56, 70), (48, 80), 0.0524, 0.3339),
        ((9, 10), (3, 10), 0.1705, 0.8090),
        ((5, 56), (0, 29), -0.0381, 0.1926),
    ],
)
def test_the_interval_is_newcombes_hybrid_score_interval_as_published(
    first: tuple[int, int], second: tuple[int, int], low: float, high: float
) -> None:
    """Newcombe (1998), Statistics in Medicine 17, 873-890, Table II, method 10 (95%)."""
    interval = newcombe_interval(first, second, 0.95)
    assert (round(interval.low, 4), round(interval.high, 4)) == (low, high)


def test_the_interval_combines_each_arms_wilson_interval_at_any_confidence() -> None:
    (c1, n1), (c2, n2), confidence = (130, 1_000), (95, 1_100), 0.9
    w1 = binomtest(c1, n1).proportion_ci(confidence, method="wilson")
    w2 = binomtest(c2, n2).proportion_ci(confidence, method="wilson")
    assert wilson_interval(c1, n1, confidence) == pytest.approx((w1.low, w1.high))
    p1, p2 = c1 / n1, c2 / n2
    interval = newcombe_interval((c1, n1), (c2, n2), confidence)
    assert interval.low == pytest.approx(p1 - p2 - math.hypot(p1 - w1.low, w2.high - p2))
    assert interval.high == pytest.approx(p1 - p2 + math.hypot(w1.high - p1, p2 - w2.low))


def test_no_event_on_either_arm_is_a_finite_interval_around_zero() -> None:
    interval = newcombe_interval((0, 500), (0, 500), 0.95)
    assert interval.low < 0 < interval.high and interval.high == pytest.approx(-interval.low)


# Better, worse, no difference.


def arm(requests: int, errors: int, labelled: int = 0, correct: int = 0) -> ArmFigures:
    return ArmFigures(requests, errors, rows=requests, labelled=labelled, correct=correct)


def test_a_candidate_with_fewer_errors_and_higher_accuracy_is_better() -> None:
    stable = arm(20_000, errors=400, labelled=10_000, correct=8_000)  # 2.0% errors, 80% accurate
    candidate = arm(20_000, errors=200, labelled=10_000, correct=8_300)  # 1.0% errors, 83% accurate
    analysis = analyse(DEFAULT_CHECKS["ab"], stable, candidate, min_requests=100, confidence=0.95)
    verdict = analysis.ab_verdict
    assert verdict is not None and verdict.overall == "candidate better"
    errors, accuracy = verdict.metric("error_rate"), verdict.metric("accuracy")
    assert errors is not None and accuracy is not None
    assert errors.outcome == accuracy.outcome == "candidate better"
    assert errors.difference == pytest.approx(-0.01) and errors.interval.high < 0
    assert accuracy.difference == pytest.approx(0.03) and accuracy.interval.low > 0
    # By hand (z = 1.959964): Wilson 95% for 200/20,000 is 0.010094 ± 0.001382 = [0.008712, 0.011476] and
    # for 400/20,000 [0.018150, 0.022034]; the difference −0.01 − √(0.001288² + 0.002034²) = −0.012408 to
    # −0.01 + √(0.001476² + 0.001850²) = −0.007633.
    assert errors.interval.low == pytest.approx(-0.012408, abs=2e-6)
    assert errors.interval.high == pytest.approx(-0.007633, abs=2e-6)
    assert verdict.summary().startswith("A/B verdict at 95%: candidate better (error rate -1.00 points")


def test_equal_arms_show_no_significant_difference() -> None:
    same = arm(5_000, errors=50, labelled=2_000, correct=1_700)
    verdict = analyse(DEFAULT_CHECKS["ab"], same, same, min_requests=100, confidence=0.95).ab_verdict
    assert verdict is not None and verdict.overall == "no significant difference"
    for metric in verdict.metrics:
        assert metric.difference == 0 and metric.interval.low < 0 < metric.interval.high
        assert metric.outcome == "no significant difference"


def test_more_errors_is_worse_and_a_split_result_is_mixed() -> None:
    worse = ab_verdict(
        0.95, stable_requests=10_000, stable_errors=100, candidate_requests=10_000, candidate_errors=180
    )
    assert worse.overall == "candidate worse" and worse.metrics[0].interval.low > 0
    assert [metric.metric for metric in worse.metrics] == ["error_rate"]  # no labels: no accuracy
    mixed = analyse(
        DEFAULT_CHECKS["ab"],
        arm(10_000, 100, labelled=5_000, correct=4_000),
        arm(10_000, 180, labelled=5_000, correct=4_300),
        min_requests=100,
        confidence=0.95,
    ).ab_verdict
    assert mixed is not None and mixed.overall == "mixed"


def test_the_plans_confidence_decides_what_is_significant() -> None:
    # 1.0% vs 1.5% errors over 3,000 requests each: p ≈ 0.07 by the score test.
    kwargs = {"stable_requests": 3_000, "stable_errors": 30, "candidate_requests": 3_000}
    at_90 = ab_verdict(0.90, candidate_errors=45, **kwargs)
    at_99 = ab_verdict(0.99, candidate_errors=45, **kwargs)
    assert at_90.overall == "candidate worse" and at_99.overall == "no significant difference"
    assert at_99.metrics[0].interval.low < at_90.metrics[0].interval.low


def test_an_analysis_without_enough_requests_or_confidence_has_no_ab_verdict() -> None:
    few = analyse(DEFAULT_CHECKS["ab"], arm(50, 0), arm(50, 0), min_requests=100, confidence=0.95)
    assert few.verdict == "not_enough_data" and few.ab_verdict is None
    canary = analyse(DEFAULT_CHECKS["canary"], arm(500, 0), arm(500, 0), min_requests=100)
    assert canary.ab_verdict is None and "ab_verdict" not in canary.to_dict()


def test_the_ab_verdict_round_trips_through_json_with_the_analysis() -> None:
    analysis = analyse(
        DEFAULT_CHECKS["ab"],
        arm(2_000, 20, labelled=500, correct=400),
        arm(2_000, 35, labelled=500, correct=420),
        min_requests=100,
        confidence=0.9,
    )
    again = Analysis.from_dict(json.loads(json.dumps(analysis.to_dict(), allow_nan=False)))
    assert again == analysis
    stored = analysis.to_dict()["ab_verdict"]
    assert stored["confidence"] == 0.9 and stored["method"] == "Newcombe hybrid score (Wilson)"
    assert {metric["metric"] for metric in stored["metrics"]} == {"error_rate", "accuracy"}


# The plan's confidence.


def test_a_plan_takes_a_confidence_for_its_ab_verdict() -> None:
    plan = RolloutPlan.from_dict({"model": "fraud", "to": 2, "strategy": "ab", "confidence": "0.9"})
    assert plan.confidence == 0.9 and plan.to_dict()["confidence"] == 0.9
    assert RolloutPlan.from_dict(plan.to_dict()) == plan
    assert RolloutPlan.from_dict({"model": "fraud", "to": 2, "strategy": "ab"}).confidence == 0.95
    assert "confidence" not in RolloutPlan(model="fraud", candidate=2).to_dict()


@pytest.mark.parametrize(
    ("confidence", "message"),
    [
        (95, "strictly between 0 and 1, like 0.95; got 95; did you mean 0.95?"),
        (1, "strictly between 0 and 1"),
        (0.0, "strictly between 0 and 1"),
        (True, "a number between 0 and 1 like 0.95; got True"),
        ("high", "confidence must be a number like 0.95, got 'high'"),
        (float("nan"), "got nan"),
    ],
)
def test_a_bad_confidence_is_refused_saying_what_to_give(confidence: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("?", r"\?")):
        RolloutPlan.from_dict({"model": "fraud", "to": 2, "strategy": "ab", "confidence": confidence})


def test_confidence_is_refused_for_a_rollout_without_a_verdict() -> None:
    with pytest.raises(InvalidInput, match="a canary rollout has no verdict"):
        RolloutPlan.from_dict({"model": "fraud", "to": 2, "confidence": 0.9})


# The verdict where users see it: the rollout's analysis, its reason, history and the CLI.


def test_an_ab_test_ends_with_its_verdict_in_the_history(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    frame, _ = classification_frame()
    for seed in range(2):
        registry.register("fraud", tiny_classifier(seed), reference=frame)
    registry.set_alias("fraud", "production", 1)
    plan = {"to": 2, "strategy": "ab", "interval": 600, "min_requests": 20, "sample_size": 200}
    started = rollouts.start(registry, RolloutPlan.from_dict({**plan, "confidence": 0.9}, model="fraud"))
    at = step_clock(started).running_since + timedelta(milliseconds=100)
    log_url = str(tmp_path / "logs")
    write(
        log_url,
        answered(200, version=1, arm="stable", at=at) + answered(200, version=2, arm="canary", at=at),
        failed(1, version=2, arm="canary", at=at),
    )
    [ended] = advance(registry, PredictionLog(log_url), now=at + timedelta(seconds=2))
    assert (ended.action, ended.state) == ("promote", "promoted")
    summary = "A/B verdict at 90%: no significant difference (error rate +0.50 points (90% CI"
    assert summary in ended.reason and ended.to_dict()["ab_verdict"]["overall"] == "no significant difference"
    done = rollouts.get(registry, started.id)
    assert summary in done.reason
    assert done.ab_verdict is not None and done.ab_verdict.confidence == 0.9
    [errors] = done.ab_verdict.metrics
    assert (errors.candidate_count, errors.candidate_total, errors.stable_count) == (1, 201, 0)
    assert done.to_dict()["ab_verdict"]["metrics"][0]["metric"] == "error_rate"
    assert done.steps[-1].analyses[-1]["ab_verdict"]["overall"] == "no significant difference"
    # The CLI's history shows it, from the same database.
    monkeypatch.setenv("SHIPYARD_HOME", str(registry.settings.home))
    monkeypatch.setenv("SHIPYARD_REGISTRY_URL", registry.settings.registry_url)
    monkeypatch.setenv("COLUMNS", "400")
    capsys.readouterr()
    assert main(["rollout", "history", "fraud"]) == 0
    assert "pass; A/B verdict at 90%: no significant difference" in capsys.readouterr().out
