"""prediction_drift over whole rollouts: two identical models are (almost) never aborted, a candidate whose
outputs really moved still is. Each rollout is simulated as the controller runs it — a four-step canary,
an analysis per step on fresh traffic, ``should_abort`` after each, a pass taking the next step — on arms
drawn from a seeded generator with the window sizes a canary at 1,000 requests an interval sees."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy.stats import chi2_contingency, ks_2samp

from shipyard.rollouts.analysis import Analysis, ArmFigures, analyse, should_abort
from shipyard.rollouts.plan import DEFAULT_CHECKS, Check

#: (stable, candidate) rows of each analysis of a 5, 25, 50, 100% canary at 1,000 requests an interval; at
#: 100% stable's rows are those of as long just before the step.
CANARY = ((950, 50), (750, 250), (500, 500), (500, 1_000))
DRIFT = next(check for check in DEFAULT_CHECKS["canary"] if check.name == "prediction_drift")

Arm = Callable[[np.random.Generator, int], ArmFigures]


def classifier(shift: float = 0.0, flipped: float = 0.0) -> Arm:
    """A binary fraud classifier: scores from Beta(2, 5) (+ ``shift``), label 'fraud' above 0.5 (about 11%
    of rows); ``flipped``: that share of the labels turned around."""

    def draw(rng: np.random.Generator, n: int) -> ArmFigures:
        scores = np.clip(rng.beta(2, 5, n) + shift, 0.0, 1.0)
        fraud = (scores > 0.5) ^ (rng.random(n) < flipped)
        labels = np.where(fraud, "fraud", "ok")
        return ArmFigures(n, rows=n, predictions=labels, scores=scores)

    return draw


def regressor(shift: float = 0.0) -> Arm:
    def draw(rng: np.random.Generator, n: int) -> ArmFigures:
        return ArmFigures(n, rows=n, predictions=rng.normal(shift, 1.0, n))

    return draw


def multiclass(rng: np.random.Generator, n: int) -> ArmFigures:
    """Four classes, two of them rare: the case a one-sample χ² against stable's sample got most wrong."""
    labels = rng.choice(["a", "b", "c", "d"], n, p=[0.7, 0.25, 0.04, 0.01])
    return ArmFigures(n, rows=n, predictions=labels)


def rollout_aborted(rng: np.random.Generator, stable: Arm, candidate: Arm, check: Check = DRIFT) -> bool:
    """One canary as the controller runs it: True when ``check`` aborts it before it is promoted."""
    history: list[Analysis] = []
    for stable_rows, candidate_rows in CANARY:
        while True:  # a failure under the failure_limit waits and judges fresh traffic at the same step
            analysis = analyse(
                [check], stable(rng, stable_rows), candidate(rng, candidate_rows), min_requests=50
            )
            history.append(analysis)
            if should_abort([check], history) is not None:
                return True
            if analysis.verdict == "pass":
                break
    return False


def abort_rate(stable: Arm, candidate: Arm, runs: int, seed: int, check: Check = DRIFT) -> float:
    rng = np.random.default_rng(seed)
    return sum(rollout_aborted(rng, stable, candidate, check) for _ in range(runs)) / runs


@pytest.mark.parametrize(
    ("arm", "runs"),
    [(classifier(), 200), (regressor(), 100), (multiclass, 100)],
    ids=["binary classifier", "regressor", "four classes, two rare"],
)
def test_identical_models_are_almost_never_aborted_by_prediction_drift(arm: Arm, runs: int) -> None:
    assert abort_rate(arm, arm, runs, seed=11) < 0.02


def test_each_analysis_of_identical_arms_calls_drift_at_the_checks_p_value_at_most() -> None:
    """The tests are sized right: two outputs tested, Bonferroni-corrected, fail about 1% of analyses
    (stable's sample is not taken for the truth, which made a χ² fail one analysis in four at 100%)."""
    rng = np.random.default_rng(12)
    draw, failed, analyses = classifier(), 0, 0
    for _ in range(150):
        for stable_rows, candidate_rows in CANARY:
            analysis = analyse([DRIFT], draw(rng, stable_rows), draw(rng, candidate_rows), min_requests=50)
            failed += analysis.verdict == "fail"
            analyses += 1
    assert failed / analyses < 0.02


def test_the_old_rule_would_have_aborted_about_one_identical_canary_in_five() -> None:
    """Why the defaults changed: a p-value of 0.05 and one failure abort identical arms far too often even
    with right-sized tests (1 − 0.95⁴ ≈ 19% over four analyses)."""
    assert abort_rate(classifier(), classifier(), 100, seed=13, check=Check("prediction_drift", 0.05)) > 0.1


@pytest.mark.parametrize(
    ("stable", "candidate"),
    [
        (classifier(), classifier(shift=0.1)),
        (classifier(), classifier(flipped=0.1)),
        (regressor(), regressor(shift=0.5)),
    ],
    ids=["scores shifted by 0.1", "10% of labels flipped", "values shifted by half a deviation"],
)
def test_a_candidate_whose_outputs_moved_is_still_aborted(stable: Arm, candidate: Arm) -> None:
    assert abort_rate(stable, candidate, 50, seed=14) >= 0.9


def test_the_drift_detail_names_each_test_and_the_corrected_level() -> None:
    rng = np.random.default_rng(15)
    draw = classifier()
    stable, candidate = draw(rng, 600), classifier(shift=0.2)(rng, 300)
    result = analyse([DRIFT], stable, candidate, min_requests=50).result("prediction_drift")
    assert result is not None and result.passed is False
    raw = ks_2samp(stable.scores, candidate.scores).pvalue
    assert result.value == pytest.approx(min(1.0, 2 * raw))  # Bonferroni: the p-value × 2 tests
    assert result.threshold == DRIFT.threshold
    assert "prediction: chi_square p =" in result.detail
    assert (
        "score: ks p =" in result.detail and "drifted (drift below 0.005 = 0.01 / 2 tests)" in result.detail
    )


def test_labels_are_compared_by_a_two_sample_test_of_homogeneity() -> None:
    """The χ² on the 2 × k table of both arms' counts, as scipy computes it, rare labels pooled."""
    stable = np.array(["a"] * 300 + ["b"] * 150 + ["c"] * 45 + ["d"] * 3 + ["e"] * 2)
    candidate = np.array(["a"] * 120 + ["b"] * 90 + ["c"] * 15 + ["d"] * 1)
    check = Check("prediction_drift", 0.01)
    result = analyse(
        [check], ArmFigures(500, predictions=stable), ArmFigures(226, predictions=candidate), min_requests=50
    ).result("prediction_drift")
    # d and e are expected fewer than 5 times on the smaller arm: pooled into one row.
    table = np.array([[300, 150, 45, 5], [120, 90, 15, 1]])
    expected = chi2_contingency(table, correction=False).pvalue
    assert result is not None and result.value == pytest.approx(expected)
    assert result.passed is bool(expected >= 0.01)


def test_one_label_on_both_arms_is_no_drift() -> None:
    same = np.array(["ok"] * 200)
    result = analyse(
        [Check("prediction_drift", 0.01)],
        ArmFigures(200, predictions=same),
        ArmFigures(200, predictions=same),
        min_requests=50,
    ).result("prediction_drift")
    assert result is not None and result.passed is True and result.value == 1.0
