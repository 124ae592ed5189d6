"""The analysis between rollout steps: each check at its threshold's edge, no verdict without data, drift by
the monitors' rules, shadow comparisons, labels, and the failure limit that aborts a rollout."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shipyard.errors import InvalidInput
from shipyard.rollouts.analysis import (
    Analysis,
    ArmFigures,
    CheckResult,
    PairFigures,
    analyse,
    should_abort,
)
from shipyard.rollouts.plan import DEFAULT_CHECKS, Check
from shipyard.stats.drift import DEFAULT_THRESHOLDS

MIN = 100


def arm(requests: int = 1_000, **figures: object) -> ArmFigures:
    defaults: dict[str, object] = {"rows": requests, "latency_p99_ms": 20.0}
    return ArmFigures(requests, **{**defaults, **figures})  # type: ignore[arg-type]


def judge(
    check: Check, stable: ArmFigures, candidate: ArmFigures, pairs: PairFigures | None = None
) -> CheckResult:
    analysis = analyse([check], stable, candidate, pairs, min_requests=MIN)
    result = analysis.result(check.name)
    assert result is not None
    assert analysis.verdict == {True: "pass", False: "fail", None: "not_enough_data"}[result.passed]
    return result


# Each check at the edge of its threshold: a figure exactly at the threshold passes, one step beyond fails.


@pytest.mark.parametrize(("candidate_errors", "passed"), [(20, True), (21, False), (0, True)])
def test_error_rate_fails_above_its_threshold_of_candidate_minus_stable(
    candidate_errors: int, passed: bool
) -> None:
    result = judge(Check("error_rate", 0.01), arm(errors=10), arm(errors=candidate_errors))
    assert result.passed is passed
    assert result.value == pytest.approx((candidate_errors - 10) / 1_000)
    assert "error rate" in result.detail


@pytest.mark.parametrize(("p99", "passed"), [(30.0, True), (30.02, False), (5.0, True)])
def test_latency_p99_fails_above_its_ratio(p99: float, passed: bool) -> None:
    result = judge(Check("latency_p99", 1.5), arm(latency_p99_ms=20.0), arm(latency_p99_ms=p99))
    assert result.passed is passed
    assert result.value == pytest.approx(p99 / 20.0)


def test_latency_p99_of_zero_does_not_divide_by_zero() -> None:
    result = judge(Check("latency_p99", 1.5), arm(latency_p99_ms=0.0), arm(latency_p99_ms=0.0))
    assert result.passed is True and result.value == 0.0


def test_latency_p99_without_answered_requests_has_no_verdict() -> None:
    result = judge(Check("latency_p99", 1.5), arm(), arm(latency_p99_ms=None))
    assert result.passed is None
    assert "the candidate answered no request" in result.detail


@pytest.mark.parametrize(("rejected", "passed"), [(30, True), (31, False)])
def test_rejections_fail_above_their_threshold_of_refused_rows(rejected: int, passed: bool) -> None:
    stable = arm(rows=2_000, rejected_rows=20)  # 1%
    candidate = arm(rows=1_000, rejected_rows=rejected)  # 3% or 3.1%: +2 or +2.1 points
    assert judge(Check("rejections", 0.02), stable, candidate).passed is passed


@pytest.mark.parametrize(("agreement", "passed"), [(0.95, True), (0.9499, False), (1.0, True)])
def test_agreement_fails_below_its_share_of_identical_labels(agreement: float, passed: bool) -> None:
    result = judge(Check("agreement", 0.95), arm(), arm(), PairFigures(1_000, agreement=agreement))
    assert result.passed is passed
    assert result.value == agreement


@pytest.mark.parametrize(("difference", "passed"), [(0.05, True), (0.0501, False), (0.0, True)])
def test_score_difference_fails_above_its_mean_absolute_difference(difference: float, passed: bool) -> None:
    pairs = PairFigures(1_000, agreement=1.0, mean_abs_score_difference=difference)
    assert judge(Check("score_difference", 0.05), arm(), arm(), pairs).passed is passed


@pytest.mark.parametrize(("correct", "passed"), [(880, True), (879, False), (990, True)])
def test_accuracy_fails_below_minus_its_threshold(correct: int, passed: bool) -> None:
    stable = arm(labelled=1_000, correct=900)
    result = judge(Check("accuracy", 0.02), stable, arm(labelled=1_000, correct=correct))
    assert result.passed is passed
    assert result.value == pytest.approx(correct / 1_000 - 0.9)


# No verdict without data: never a pass.


@pytest.mark.parametrize(("stable_requests", "candidate_requests"), [(99, 1_000), (1_000, 99), (0, 0)])
def test_below_min_requests_on_either_arm_nothing_is_judged(
    stable_requests: int, candidate_requests: int
) -> None:
    checks = DEFAULT_CHECKS["canary"]
    stable = arm(stable_requests, errors=0)
    candidate = arm(candidate_requests, errors=candidate_requests)  # every request failed: still no verdict
    analysis = analyse(checks, stable, candidate, min_requests=MIN)
    assert analysis.verdict == "not_enough_data"
    assert [result.name for result in analysis.results] == [check.name for check in checks]
    assert all(result.passed is None for result in analysis.results)
    assert "of the 100 requests needed" in analysis.results[0].detail


def test_exactly_min_requests_on_both_arms_is_judged() -> None:
    analysis = analyse([Check("error_rate", 0.01)], arm(MIN), arm(MIN), min_requests=MIN)
    assert analysis.verdict == "pass"


def test_an_analysis_with_one_check_without_data_does_not_pass() -> None:
    checks = [Check("error_rate", 0.01), Check("latency_p99", 1.5)]
    analysis = analyse(checks, arm(), arm(latency_p99_ms=None), min_requests=MIN)
    assert analysis.verdict == "not_enough_data"
    failing = analyse(checks, arm(), arm(errors=500, latency_p99_ms=None), min_requests=MIN)
    assert failing.verdict == "fail"  # a failure is a failure even while another check waits


def test_shadow_checks_without_enough_pairs_have_no_verdict() -> None:
    checks = [Check("agreement", 0.95), Check("score_difference", 0.05)]
    for pairs, said in [
        (None, "needs a shadow rollout"),
        (PairFigures(99, 1.0, 0.0), "99 mirrored rows of the 100 needed"),
        (PairFigures(1_000, None, None), "carry no"),
    ]:
        analysis = analyse(checks, arm(), arm(), pairs, min_requests=MIN)
        assert analysis.verdict == "not_enough_data"
        assert all(said in result.detail for result in analysis.results)


def test_rejections_without_rows_have_no_verdict() -> None:
    assert judge(Check("rejections", 0.01), arm(), arm(rows=0)).passed is None


def test_min_requests_must_be_at_least_one() -> None:
    with pytest.raises(InvalidInput, match="min_requests"):
        analyse([Check("error_rate", 0.01)], arm(0), arm(0), min_requests=0)


# Accuracy waits for labels.


def test_accuracy_waits_until_both_arms_have_enough_labels() -> None:
    check = Check("accuracy", 0.02)
    stable = arm(labelled=1_000, correct=900)
    for labelled in (0, MIN - 1):
        result = judge(check, stable, arm(labelled=labelled, correct=0))
        assert result.passed is None
        assert "waiting for labels" in result.detail
    assert judge(check, stable, arm(labelled=MIN, correct=0)).passed is False


def test_a_plan_that_does_not_wait_for_labels_is_not_held_back_by_accuracy() -> None:
    checks = [Check("error_rate", 0.01), Check("accuracy", 0.02)]
    analysis = analyse(checks, arm(), arm(), min_requests=MIN, wait_for_labels=False)
    assert analysis.verdict == "pass"
    accuracy = analysis.result("accuracy")
    assert accuracy is not None and accuracy.passed is None  # shown, without a verdict
    assert analyse(checks, arm(), arm(), min_requests=MIN).verdict == "not_enough_data"
    labelled = analyse(
        checks,
        arm(labelled=500, correct=450),
        arm(labelled=500, correct=400),
        min_requests=MIN,
        wait_for_labels=False,
    )
    assert labelled.verdict == "fail"  # labels that did arrive still count


# Prediction drift: the monitors' statistics and decision rules, stable's outputs as the reference.


def outputs(rng: np.random.Generator, n: int, shift: float = 0.0) -> ArmFigures:
    return arm(predictions=rng.normal(shift, 1.0, n))


def test_prediction_drift_on_a_small_window_is_the_ks_test_at_the_checks_p_value() -> None:
    rng = np.random.default_rng(1)
    check = Check("prediction_drift", 0.05)
    same = judge(check, outputs(rng, 800), outputs(rng, 800))
    assert same.passed is True
    assert same.threshold == 0.05 and same.value is not None and same.value >= 0.05
    assert "ks p =" in same.detail
    shifted = judge(check, outputs(rng, 800), outputs(rng, 800, shift=0.5))
    assert shifted.passed is False
    assert shifted.value is not None and shifted.value < 0.05
    assert "drifted" in shifted.detail


def test_prediction_drift_threshold_decides_at_the_p_value() -> None:
    rng = np.random.default_rng(5)
    stable, candidate = outputs(rng, 600), outputs(rng, 600, shift=0.12)
    p_value = judge(Check("prediction_drift", 0.0), stable, candidate).value
    assert p_value is not None and 0 < p_value < 1
    assert judge(Check("prediction_drift", p_value), stable, candidate).passed is True
    assert judge(Check("prediction_drift", p_value * 1.01), stable, candidate).passed is False


def test_prediction_drift_on_a_large_window_is_the_monitors_distance() -> None:
    rng = np.random.default_rng(2)
    stable = outputs(rng, 20_000)
    # With 20,000 rows a KS test calls a shift of 0.05 standard deviations significant; the monitors judge
    # large windows by Wasserstein distance instead, which sees it is small.
    slight = judge(Check("prediction_drift", 0.05), stable, outputs(rng, 20_000, shift=0.05))
    assert slight.passed is True
    assert "wasserstein" in slight.detail
    assert slight.threshold == DEFAULT_THRESHOLDS["wasserstein"]
    large = judge(Check("prediction_drift", 0.05), stable, outputs(rng, 20_000, shift=0.5))
    assert large.passed is False
    assert large.value is not None and large.value >= DEFAULT_THRESHOLDS["wasserstein"]


def test_prediction_drift_of_a_classifier_compares_labels_and_scores() -> None:
    rng = np.random.default_rng(3)
    n = 900
    stable = arm(predictions=rng.choice(["fraud", "ok"], n, p=[0.1, 0.9]), scores=rng.beta(1, 9, n))
    same = arm(predictions=rng.choice(["fraud", "ok"], n, p=[0.1, 0.9]), scores=rng.beta(1, 9, n))
    result = judge(Check("prediction_drift", 0.05), stable, same)
    assert result.passed is True
    assert "prediction: chi_square" in result.detail and "score: ks" in result.detail
    # Labels unchanged, scores shifted: the score alone drifting is enough (the monitors' drift_share 0.5).
    scores_moved = arm(predictions=rng.choice(["fraud", "ok"], n, p=[0.1, 0.9]), scores=rng.beta(3, 7, n))
    moved = judge(Check("prediction_drift", 0.05), stable, scores_moved)
    assert moved.passed is False
    assert "score: ks" in moved.detail and "drifted" in moved.detail
    labels_moved = arm(predictions=rng.choice(["fraud", "ok"], n, p=[0.4, 0.6]))
    assert (
        judge(Check("prediction_drift", 0.05), arm(predictions=stable.predictions), labels_moved).passed
        is False
    )


def test_prediction_drift_takes_integer_labels_as_classes_unless_told_otherwise() -> None:
    rng = np.random.default_rng(4)
    stable = arm(predictions=rng.integers(0, 3, 500))
    candidate = arm(predictions=rng.integers(0, 3, 500))
    analysis = analyse([Check("prediction_drift", 0.05)], stable, candidate, min_requests=MIN)
    assert "chi_square" in analysis.results[0].detail
    as_values = analyse(
        [Check("prediction_drift", 0.05)], stable, candidate, min_requests=MIN, task="regression"
    )
    assert "ks" in as_values.results[0].detail


def test_prediction_drift_without_predictions_has_no_verdict() -> None:
    rng = np.random.default_rng(6)
    check = Check("prediction_drift", 0.05)
    assert judge(check, outputs(rng, 500), arm()).passed is None
    assert judge(check, arm(predictions=np.array([])), outputs(rng, 500)).passed is None
    nulls = arm(predictions=np.full(500, np.nan))
    result = judge(check, outputs(rng, 500), nulls)
    assert result.passed is None
    assert "no non-null predictions" in result.detail


def test_prediction_drift_refuses_scores_that_do_not_match_the_predictions() -> None:
    stable = arm(predictions=np.zeros(10), scores=np.zeros(10))
    with pytest.raises(InvalidInput, match="9 scores for 10 predictions"):
        analyse(
            [Check("prediction_drift", 0.05)],
            stable,
            arm(predictions=np.zeros(10), scores=np.zeros(9)),
            min_requests=1,
        )


# A whole analysis, its dict, and when a rollout aborts.


def test_a_shadow_analysis_with_the_default_checks_passes_when_the_candidate_matches() -> None:
    pairs = PairFigures(1_000, agreement=0.99, mean_abs_score_difference=0.01)
    analysis = analyse(DEFAULT_CHECKS["shadow"], arm(), arm(), pairs, min_requests=MIN)
    assert analysis.verdict == "pass"
    assert analysis.failed == []


def test_an_analysis_round_trips_through_json() -> None:
    rng = np.random.default_rng(8)
    stable = arm(errors=3, rejected_rows=2, labelled=200, correct=180, predictions=rng.normal(0, 1, 300))
    candidate = arm(
        np.int64(1_000),
        errors=np.int64(40),
        latency_p99_ms=np.float64(35.5),
        predictions=rng.normal(0, 1, 300),
    )
    checks = [*DEFAULT_CHECKS["ab"]]
    analysis = analyse(checks, stable, candidate, PairFigures(np.int64(5), np.float64(0.5)), min_requests=MIN)
    assert analysis.verdict == "fail"
    assert [result.name for result in analysis.failed] == ["error_rate", "latency_p99"]
    text = json.dumps(analysis.to_dict(), allow_nan=False)
    again = Analysis.from_dict(json.loads(text))
    assert again == analysis
    assert again.to_dict() == analysis.to_dict()
    assert analysis.figures["candidate"]["predictions"] == 300
    assert analysis.figures["min_requests"] == MIN


def test_an_analysis_dict_with_an_unknown_verdict_is_refused() -> None:
    with pytest.raises(InvalidInput, match="pass, fail or not_enough_data"):
        Analysis.from_dict({"verdict": "maybe", "results": []})


def analysis_of(**passed: bool | None) -> Analysis:
    results = [CheckResult(name, None, 0.0, verdict, "") for name, verdict in passed.items()]
    verdicts = set(passed.values())
    return Analysis(
        "fail" if False in verdicts else "not_enough_data" if None in verdicts else "pass", results
    )


def test_should_abort_when_a_check_fails_failure_limit_analyses_in_a_row() -> None:
    checks = [Check("error_rate", 0.01, failure_limit=3), Check("latency_p99", 1.5)]
    fail, ok = analysis_of(error_rate=False, latency_p99=True), analysis_of(error_rate=True, latency_p99=True)
    assert should_abort(checks, [fail, fail]) is None
    assert should_abort(checks, [fail, ok, fail, fail]) is None  # a pass breaks the run
    result = should_abort(checks, [ok, fail, fail, fail])
    assert result is not None and result.name == "error_rate"
    assert should_abort(checks, []) is None


def test_should_abort_at_once_with_a_failure_limit_of_one() -> None:
    checks = [Check("error_rate", 0.01, failure_limit=3), Check("latency_p99", 1.5)]
    slow = analysis_of(error_rate=True, latency_p99=False)
    result = should_abort(checks, [slow])
    assert result is not None and result.name == "latency_p99"


def test_should_abort_names_the_latest_failing_result() -> None:
    checks = [Check("error_rate", 0.01, failure_limit=2)]
    older = Analysis("fail", [CheckResult("error_rate", 0.05, 0.01, False, "older")])
    newer = Analysis("fail", [CheckResult("error_rate", 0.09, 0.01, False, "newer")])
    result = should_abort(checks, [older, newer])
    assert result is not None and result.detail == "newer"


def test_no_data_between_failures_neither_counts_nor_breaks_the_run() -> None:
    checks = [Check("error_rate", 0.01, failure_limit=2)]
    fail, waiting = analysis_of(error_rate=False), analysis_of(error_rate=None)
    assert should_abort(checks, [fail, waiting]) is None
    assert should_abort(checks, [fail, waiting, waiting]) is None
    result = should_abort(checks, [fail, waiting, fail])
    assert result is not None and result.passed is False
    # An analysis that did not run the check at all is skipped the same way.
    assert should_abort(checks, [fail, analysis_of(latency_p99=True), fail]) is not None


def test_failing_analyses_end_a_real_rollout_after_its_failure_limit() -> None:
    checks = [Check("error_rate", 0.01, failure_limit=2), Check("latency_p99", 1.5)]
    history = []
    for candidate_errors in (5, 40, 5, 40, 45):
        history.append(analyse(checks, arm(errors=5), arm(errors=candidate_errors), min_requests=MIN))
        decided = should_abort(checks, history)
        if len(history) < 5:
            assert decided is None
    assert decided is not None and decided.name == "error_rate"
    assert decided.value == pytest.approx(0.04)
