"""The analysis between two steps of a rollout: is the candidate doing as well as stable on live traffic?

The caller (the rollout controller) gathers each arm's figures over the step — from the prediction log cut
by arm, the same figures the monitors compute — and :func:`analyse` judges them with the plan's checks.
Each check gives a :class:`CheckResult`: passed, failed, or no verdict (``passed is None``) when the figures
it needs are missing. The :class:`Analysis` fails when any check fails, says "not_enough_data" when no
check fails but one has no verdict, and passes only when every check passed: a rollout never moves on with
no data. Below ``min_requests`` on either arm nothing is judged at all.

The checks, each with its threshold (the defaults are in ``rollouts.plan.DEFAULT_CHECKS``):

=================  =============================================================================  ========
check              figure, and when it fails                                                      default
=================  =============================================================================  ========
error_rate         candidate − stable share of requests that failed (errors / requests), in        0.01
                   absolute terms (0.01 = one percentage point); fails above the threshold
latency_p99        candidate p99 latency / stable p99 latency; fails above the threshold            1.5
rejections         candidate − stable share of rows the data contract refused (rejected_rows /      0.01
                   rows); fails above the threshold
prediction_drift   whether the arms' outputs come from one distribution: the prediction              0.01
                   (categorical for a classifier, numeric for a regressor) and a binary
                   classifier's score. While the candidate has ≤ 1,000 values: two-sample tests,
                   KS for numbers and a χ² test of homogeneity (2 × k table) for labels; fails
                   when a Bonferroni-adjusted p-value (p × the number of tests) is below the
                   threshold. Larger windows are judged by the monitors' distance with its own
                   threshold (Wasserstein ≥ 0.1, Jensen–Shannon ≥ 0.1), since every small
                   difference is "significant" there. Aborts after 2 failures in a row
agreement          shadow: share of mirrored rows where both arms predicted the same label;         0.95
                   fails below the threshold
score_difference   shadow: mean |stable score − candidate score| over mirrored rows; fails above    0.05
                   the threshold
accuracy           candidate − stable accuracy (correct / labelled) on rows with ground truth;      0.02
                   fails below −threshold; no verdict until both arms have ``min_requests``
                   labelled rows
=================  =============================================================================  ========

Differences are candidate minus stable: a candidate that does better never fails a check. Differences
and ratios are rounded to 12 decimals, so 2% − 1% is exactly at a 0.01 threshold, and a figure exactly at
its threshold passes. :func:`should_abort` turns a run of analyses into the decision to abort: a check that
failed ``failure_limit`` analyses in a row. This is core code: no database, no HTTP, no files.

Why prediction_drift is judged this way. Two identical models must (almost) never be aborted, yet a
rollout asks the question many times: up to two tests per analysis, an analysis per step, four steps.
With the monitors' tests at p < 0.05 and one failure enough, identical arms aborted about one four-step
canary in three (one in ten for a regressor, three in five for a classifier with rare classes). Three
things were wrong, and each is put right as a statistician would:

* the tests: the monitors compare a window with a reference profile taken as the truth (a χ² goodness of
  fit); here stable's outputs are a sample too, often no larger than the candidate's (as large at 50%,
  half as large at 100%), which makes the χ² statistic up to three times too large. Both arms are
  samples, so the tests are two-sample ones (KS, and χ² on the 2 × k table of counts, labels expected
  fewer than 5 times on the smaller arm pooled into one);
* the tests within one analysis: a Bonferroni correction (each p-value × the number of tests), so the
  threshold is the chance that *any* of them calls identical arms drifted (Holm's first step; for "did
  any drift?" Holm decides the same). The tests are dependent (the label is the score above 0.5), and
  Bonferroni stays valid, conservatively;
* the analyses within a rollout: the default threshold is 0.01 and the default ``failure_limit`` 2, and
  the analysis after a failure judges only the traffic since, so a drift must show twice on independent
  data. Identical arms then abort a step with probability 0.01² and a four-step canary about 0.04% of the
  time (0 of 1,000 simulated rollouts), while a real change is still caught: scores shifted by 0.1 (0.6
  standard deviations) in every simulated rollout, 10% of labels flipped in about 94%, one interval later
  than a single failure would. An A/B test's verdict is final (one analysis), so there the false-abort
  rate is the threshold itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.rollouts.plan import Check
from shipyard.rollouts.verdict import ABVerdict, ab_verdict
from shipyard.stats import Profile, ProfileLayout
from shipyard.stats.drift import DriftOptions, Method, compare
from shipyard.stats.tails import chi_square_survival

Verdict = Literal["pass", "fail", "not_enough_data"]
Task = Literal["classification", "regression"]
Kind = Literal["numeric", "categorical"]
_PREDICTION, _SCORE = "_prediction", "_score"  # the prediction log's output column names
_TESTS: dict[str, Method] = {"numeric": "ks", "categorical": "chi_square"}
_DIGITS = 12
_MIN_EXPECTED = 5  # the usual floor of a χ² cell's expected count


@dataclass(frozen=True)
class ArmFigures:
    """What one arm did over a step.

    ``requests``: every live (or, for shadow, mirrored) request the arm received; ``errors``: those that got
    no answer because of the server or the model (5xx: model failures, timeouts); ``rows``: every row sent,
    refused ones included; ``rejected_rows``: rows the data contract refused; ``latency_p99_ms``: over the
    answered requests (None when none was answered); ``predictions`` and ``scores`` (a binary classifier's
    positive-class probability): one per answered row, or a sample of them; ``labelled``/``correct``: rows
    with ground truth, and how many of them the arm predicted right.
    """

    requests: int
    errors: int = 0
    rows: int = 0
    rejected_rows: int = 0
    latency_p99_ms: float | None = None
    predictions: np.ndarray | None = None
    scores: np.ndarray | None = None
    labelled: int = 0
    correct: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The counts, without the predictions and scores themselves (their number instead)."""
        return {
            "requests": int(self.requests),
            "errors": int(self.errors),
            "rows": int(self.rows),
            "rejected_rows": int(self.rejected_rows),
            "latency_p99_ms": None if self.latency_p99_ms is None else float(self.latency_p99_ms),
            "predictions": None if self.predictions is None else len(self.predictions),
            "scores": None if self.scores is None else len(self.scores),
            "labelled": int(self.labelled),
            "correct": int(self.correct),
        }


@dataclass(frozen=True)
class PairFigures:
    """Shadow: stable's and the candidate's answers to the same mirrored rows.

    ``pairs``: rows answered by both; ``agreement``: share of them with the same predicted label;
    ``mean_abs_score_difference``: mean |stable score − candidate score| (a regressor's builder may put the
    mean absolute difference of the predicted values here). None when the figure cannot be computed.
    """

    pairs: int
    agreement: float | None = None
    mean_abs_score_difference: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "pairs": int(self.pairs),
            "agreement": _plain(self.agreement),
            "mean_abs_score_difference": _plain(self.mean_abs_score_difference),
        }


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome: ``value`` against ``threshold``; ``passed`` is None when there was no data to
    judge, and ``detail`` says in words what was compared (or what is missing)."""

    name: str
    value: float | None
    threshold: float
    passed: bool | None
    detail: str

    def __post_init__(self) -> None:
        # Plain numbers, whatever the figures were counted in (numpy's False is not ``False``).
        object.__setattr__(self, "value", None if self.value is None else float(self.value))
        object.__setattr__(self, "threshold", float(self.threshold))
        object.__setattr__(self, "passed", None if self.passed is None else bool(self.passed))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "threshold": self.threshold,
            "passed": self.passed,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        value = data.get("value")
        return cls(
            name=str(data["name"]),
            value=None if value is None else float(value),
            threshold=float(data["threshold"]),
            passed=data.get("passed"),
            detail=str(data.get("detail", "")),
        )


@dataclass(frozen=True)
class Analysis:
    """The verdict of one analysis and every check's result; ``figures`` holds the arms' counts it judged
    (for the audit entry and the rollout's history); ``ab_verdict``: an A/B test's comparison of the arms
    with confidence intervals (None for the other strategies)."""

    verdict: Verdict
    results: list[CheckResult]
    figures: dict[str, Any] = field(default_factory=dict)
    ab_verdict: ABVerdict | None = None

    @property
    def failed(self) -> list[CheckResult]:
        return [result for result in self.results if result.passed is False]

    def result(self, name: str) -> CheckResult | None:
        return next((result for result in self.results if result.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (no NaN, no infinity) that :meth:`from_dict` turns back into an equal analysis."""
        data = {
            "verdict": self.verdict,
            "results": [result.to_dict() for result in self.results],
            "figures": self.figures,
        }
        if self.ab_verdict is not None:
            data["ab_verdict"] = self.ab_verdict.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Analysis:
        verdict = data.get("verdict")
        if verdict not in ("pass", "fail", "not_enough_data"):
            raise InvalidInput(f"an analysis's verdict is pass, fail or not_enough_data, got {verdict!r}")
        results = [CheckResult.from_dict(item) for item in data.get("results", [])]
        ab = data.get("ab_verdict")
        return cls(
            verdict, results, dict(data.get("figures", {})), None if ab is None else ABVerdict.from_dict(ab)
        )


def analyse(
    checks: Sequence[Check],
    stable: ArmFigures,
    candidate: ArmFigures,
    pairs: PairFigures | None = None,
    *,
    min_requests: int,
    task: Task | None = None,
    wait_for_labels: bool = True,
    confidence: float | None = None,
) -> Analysis:
    """Judge one step: run each check on the arms' figures (``candidate`` is the canary or shadow arm).

    With fewer than ``min_requests`` requests on either arm, every check has no verdict and the analysis
    says "not_enough_data". ``task`` says whether predictions are labels or values for prediction_drift
    (None: a classifier when there are scores or the predictions are not floats). With ``wait_for_labels``
    false, an accuracy check still waiting for labels is shown but does not hold the verdict back. With a
    ``confidence`` (an A/B test's), the analysis also carries the A/B verdict at that level
    (``rollouts.verdict``) once both arms have ``min_requests``.
    """
    if isinstance(min_requests, bool) or not isinstance(min_requests, int) or min_requests < 1:
        raise InvalidInput(f"min_requests must be a whole number of at least 1, got {min_requests!r}")
    figures = {
        "stable": stable.to_dict(),
        "candidate": candidate.to_dict(),
        "pairs": None if pairs is None else pairs.to_dict(),
        "min_requests": min_requests,
    }
    short = [
        f"{arm} has {figures.requests:,}"
        for arm, figures in (("stable", stable), ("candidate", candidate))
        if figures.requests < min_requests
    ]
    if short:
        detail = f"not enough data: {' and '.join(short)} of the {min_requests:,} requests needed"
        results = [CheckResult(check.name, None, check.threshold, None, detail) for check in checks]
        return Analysis("not_enough_data", results, figures)
    results = [_CHECKS[check.name](check, stable, candidate, pairs, min_requests, task) for check in checks]
    waiting = {
        result.name
        for result in results
        if result.name == "accuracy" and result.passed is None and not wait_for_labels
    }
    deciding = [result for result in results if result.name not in waiting]
    verdict: Verdict = (
        "fail"
        if any(result.passed is False for result in deciding)
        else "not_enough_data"
        if any(result.passed is None for result in deciding)
        else "pass"
    )
    ab = None if confidence is None else _ab_verdict(stable, candidate, confidence)
    return Analysis(verdict, results, figures, ab)


def _ab_verdict(stable: ArmFigures, candidate: ArmFigures, confidence: float) -> ABVerdict:
    return ab_verdict(
        confidence,
        stable_requests=int(stable.requests),
        stable_errors=int(stable.errors),
        candidate_requests=int(candidate.requests),
        candidate_errors=int(candidate.errors),
        stable_labelled=int(stable.labelled),
        stable_correct=int(stable.correct),
        candidate_labelled=int(candidate.labelled),
        candidate_correct=int(candidate.correct),
    )


def should_abort(checks: Sequence[Check], analyses: Sequence[Analysis]) -> CheckResult | None:
    """The check that ends the rollout, or None: the first of ``checks`` (in order) that failed in its
    ``failure_limit`` most recent judged analyses in a row, as the latest of those results.

    ``analyses`` run oldest first. An analysis where the check had no verdict (not enough data) neither
    counts nor breaks the run — no data is no evidence that the candidate recovered; a pass breaks it.
    """
    for check in checks:
        run: list[CheckResult] = []
        for analysis in reversed(analyses):
            result = analysis.result(check.name)
            if result is None or result.passed is None:
                continue
            if result.passed:
                break
            run.append(result)
            if len(run) >= check.failure_limit:
                return run[0]
    return None


# The checks. Each takes (check, stable, candidate, pairs, min_requests, task) and returns its result.


def _error_rate(check: Check, stable: ArmFigures, candidate: ArmFigures, *_: Any) -> CheckResult:
    mine, theirs = stable.errors / stable.requests, candidate.errors / candidate.requests
    difference = round(theirs - mine, _DIGITS)
    return CheckResult(
        check.name,
        difference,
        check.threshold,
        difference <= check.threshold,
        f"error rate {_percent(theirs)} (candidate) vs {_percent(mine)} (stable): "
        f"{_points(difference)}, fails above {_points(check.threshold)}",
    )


def _latency(check: Check, stable: ArmFigures, candidate: ArmFigures, *_: Any) -> CheckResult:
    mine, theirs = stable.latency_p99_ms, candidate.latency_p99_ms
    if mine is None or theirs is None:
        missing = "stable" if mine is None else "the candidate"
        return _no_verdict(check, f"no p99 latency: {missing} answered no request")
    ratio = round(theirs / max(mine, 1e-3), _DIGITS)  # 1 µs floor: a 0 ms p99 never divides by zero
    return CheckResult(
        check.name,
        ratio,
        check.threshold,
        ratio <= check.threshold,
        f"p99 latency {theirs:.1f} ms (candidate) vs {mine:.1f} ms (stable): ×{ratio:.2f}, "
        f"fails above ×{check.threshold:g}",
    )


def _rejections(check: Check, stable: ArmFigures, candidate: ArmFigures, *_: Any) -> CheckResult:
    if stable.rows == 0 or candidate.rows == 0:
        return _no_verdict(check, f"no rows sent to {'stable' if stable.rows == 0 else 'the candidate'}")
    mine, theirs = stable.rejected_rows / stable.rows, candidate.rejected_rows / candidate.rows
    difference = round(theirs - mine, _DIGITS)
    return CheckResult(
        check.name,
        difference,
        check.threshold,
        difference <= check.threshold,
        f"rows refused by the contract {_percent(theirs)} (candidate) vs {_percent(mine)} (stable): "
        f"{_points(difference)}, fails above {_points(check.threshold)}",
    )


def _agreement(
    check: Check, _s: Any, _c: Any, pairs: PairFigures | None, minimum: int, *_: Any
) -> CheckResult:
    if pairs is None or pairs.pairs < minimum or pairs.agreement is None:
        return _no_verdict(check, _pairs_missing(pairs, minimum, "labels"))
    agreement = round(pairs.agreement, _DIGITS)
    return CheckResult(
        check.name,
        agreement,
        check.threshold,
        agreement >= check.threshold,
        f"same label on {_percent(agreement)} of {pairs.pairs:,} mirrored rows, "
        f"fails below {_percent(check.threshold)}",
    )


def _score_difference(
    check: Check, _s: Any, _c: Any, pairs: PairFigures | None, minimum: int, *_: Any
) -> CheckResult:
    if pairs is None or pairs.pairs < minimum or pairs.mean_abs_score_difference is None:
        return _no_verdict(check, _pairs_missing(pairs, minimum, "scores"))
    difference = round(pairs.mean_abs_score_difference, _DIGITS)
    return CheckResult(
        check.name,
        difference,
        check.threshold,
        difference <= check.threshold,
        f"mean |score difference| {difference:.4f} over {pairs.pairs:,} mirrored rows, "
        f"fails above {check.threshold:g}",
    )


def _accuracy(
    check: Check, stable: ArmFigures, candidate: ArmFigures, _p: Any, minimum: int, *_: Any
) -> CheckResult:
    short = [
        f"{arm} has {figures.labelled:,}"
        for arm, figures in (("stable", stable), ("candidate", candidate))
        if figures.labelled < minimum
    ]
    if short:
        return _no_verdict(
            check, f"waiting for labels: {' and '.join(short)} of the {minimum:,} labelled rows needed"
        )
    mine, theirs = stable.correct / stable.labelled, candidate.correct / candidate.labelled
    difference = round(theirs - mine, _DIGITS)
    return CheckResult(
        check.name,
        difference,
        check.threshold,
        difference >= -check.threshold,
        f"accuracy {_percent(theirs)} (candidate, {candidate.labelled:,} labelled) vs {_percent(mine)} "
        f"(stable, {stable.labelled:,}): {_points(difference)}, fails below {_points(-check.threshold)}",
    )


def _prediction_drift(
    check: Check, stable: ArmFigures, candidate: ArmFigures, _p: Any, _m: int, task: Task | None
) -> CheckResult:
    frames = _output_frames(stable, candidate)
    if frames is None:
        return _no_verdict(
            check, "no predictions from " + ("stable" if not _has(stable) else "the candidate")
        )
    kinds: dict[str, Kind] = {
        _PREDICTION: "categorical"
        if (task or _guess_task(stable, candidate)) == "classification"
        else "numeric"
    }
    if _SCORE in frames[0]:
        kinds[_SCORE] = "numeric"
    columns = _output_drift(*frames, kinds)
    judged = [column for column in columns if not column.no_data]
    if not judged:
        return _no_verdict(check, "no non-null predictions on one of the arms")
    # Bonferroni over the tests of this analysis: each at threshold / tests, so that the chance that any
    # of them calls identical arms drifted stays at the threshold (Holm's first step; for the question
    # "did any drift?" Holm decides the same).
    tests = sum(column.p_value is not None for column in judged)
    drifted = [column for column in judged if column.drifted(check.threshold, tests)]
    deciding = drifted[0] if drifted else judged[0]
    return CheckResult(
        check.name,
        # Not rounded: the rule (adjusted p < threshold, distance ≥ threshold) decided on it.
        deciding.value(tests),
        check.threshold if deciding.p_value is not None else deciding.threshold,
        not drifted,
        "; ".join(column.describe(check.threshold, tests) for column in columns),
    )


@dataclass(frozen=True)
class _OutputDrift:
    """One output column's drift between the arms: a two-sample test's p-value (windows of up to
    ``small_window`` candidate values), or the monitors' distance with its threshold (larger ones)."""

    column: str
    method: str
    p_value: float | None = None
    distance: float | None = None
    threshold: float = 0.0
    no_data: bool = False

    def value(self, tests: int) -> float | None:
        """The figure judged: the p-value Bonferroni-adjusted for ``tests`` tests, or the distance."""
        if self.p_value is not None:
            return min(1.0, self.p_value * max(tests, 1))
        return self.distance

    def drifted(self, threshold: float, tests: int) -> bool:
        if self.no_data:
            return False
        if self.p_value is not None:
            return min(1.0, self.p_value * max(tests, 1)) < threshold
        return self.distance is not None and self.distance >= self.threshold

    def describe(self, threshold: float, tests: int) -> str:
        name = {_PREDICTION: "prediction", _SCORE: "score"}.get(self.column, self.column)
        if self.no_data:
            return f"{name}: no data"
        verdict = "drifted" if self.drifted(threshold, tests) else "no drift"
        if self.p_value is not None:
            level = (
                f"{threshold:g}" if tests <= 1 else f"{threshold / tests:.3g} = {threshold:g} / {tests} tests"
            )
            return f"{name}: {self.method} p = {self.p_value:.3g}, {verdict} (drift below {level})"
        return f"{name}: {self.method} {self.distance:.3g}, {verdict} (drift at {self.threshold:g} or more)"


def _output_drift(
    reference: pd.DataFrame, current: pd.DataFrame, kinds: Mapping[str, Kind]
) -> list[_OutputDrift]:
    """Each output column's drift: a two-sample test while the candidate has at most ``small_window``
    values, else the monitors' distance (where every small difference is "significant")."""
    small = DriftOptions().small_window
    results: dict[str, _OutputDrift] = {}
    for name, kind in kinds.items():
        mine, theirs = _present(reference[name], kind), _present(current[name], kind)
        if len(mine) == 0 or len(theirs) == 0:
            results[name] = _OutputDrift(name, _TESTS[kind], no_data=True)
        elif len(theirs) <= small:
            p_value = _ks_p_value(mine, theirs) if kind == "numeric" else _homogeneity_p_value(mine, theirs)
            results[name] = _OutputDrift(name, _TESTS[kind], p_value=p_value)
    large = [name for name in kinds if name not in results]
    if large:
        for column in _monitor_distances(reference[large], current[large], kinds):
            results[column.column] = column
    return [results[name] for name in kinds]


def _monitor_distances(
    reference: pd.DataFrame, current: pd.DataFrame, kinds: Mapping[str, Kind]
) -> list[_OutputDrift]:
    """The monitors' own rule for large windows: Wasserstein or Jensen–Shannon distance, stable's outputs
    profiled as the reference."""
    layout = ProfileLayout.infer(reference, kinds={name: kinds[name] for name in reference.columns})
    drift = compare(Profile.build(reference, layout), Profile.build(current, layout), DriftOptions())
    return [
        _OutputDrift(
            column.column, column.method, column.p_value, column.distance, column.threshold, column.no_data
        )
        for column in drift.columns
    ]


def _present(values: pd.Series, kind: Kind) -> np.ndarray:
    """The column's non-null values (finite numbers for a numeric column)."""
    if kind == "numeric":
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
        return numbers[np.isfinite(numbers)]
    return values[values.notna()].to_numpy()


def _ks_p_value(reference: np.ndarray, current: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov: stable's outputs are a sample too, not the truth."""
    from scipy.stats import ks_2samp

    return float(ks_2samp(reference, current).pvalue)


def _homogeneity_p_value(reference: np.ndarray, current: np.ndarray) -> float:
    """χ² test of homogeneity on the 2 × k table of both arms' label counts: do they draw labels from one
    distribution? Labels too rare for the χ² approximation (expected fewer than 5 times on the smaller
    arm) are pooled into one; with a single label left there is nothing to tell the arms apart (p = 1)."""
    codes, _ = pd.factorize(np.concatenate([reference, current]))
    split = len(reference)
    counts = np.stack(
        [np.bincount(part, minlength=codes.max() + 1) for part in (codes[:split], codes[split:])]
    )
    totals = counts.sum(axis=0)
    rare = totals * min(counts.sum(axis=1)) / totals.sum() < _MIN_EXPECTED
    table = counts[:, ~rare]
    if rare.any():
        table = np.column_stack([table, counts[:, rare].sum(axis=1)])
    if table.shape[1] < 2:
        return 1.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return chi_square_survival(table.shape[1] - 1, statistic)


_CHECKS: dict[str, Callable[..., CheckResult]] = {
    "error_rate": _error_rate,
    "latency_p99": _latency,
    "rejections": _rejections,
    "prediction_drift": _prediction_drift,
    "agreement": _agreement,
    "score_difference": _score_difference,
    "accuracy": _accuracy,
}


def _output_frames(stable: ArmFigures, candidate: ArmFigures) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Each arm's outputs as the prediction log names them; the score only when both arms have one."""
    if not _has(stable) or not _has(candidate):
        return None
    with_scores = stable.scores is not None and candidate.scores is not None
    frames = []
    for arm, figures in (("stable", stable), ("candidate", candidate)):
        columns: dict[str, Any] = {_PREDICTION: np.asarray(figures.predictions)}
        if with_scores:
            scores = np.asarray(figures.scores, dtype=np.float64)
            if len(scores) != len(columns[_PREDICTION]):
                raise InvalidInput(
                    f"{arm} has {len(scores):,} scores for {len(columns[_PREDICTION]):,} predictions; "
                    "give one score per prediction"
                )
            columns[_SCORE] = scores
        frames.append(pd.DataFrame(columns))
    return frames[0], frames[1]


def _has(figures: ArmFigures) -> bool:
    return figures.predictions is not None and len(figures.predictions) > 0


def _guess_task(stable: ArmFigures, candidate: ArmFigures) -> Task:
    if stable.scores is not None or candidate.scores is not None:
        return "classification"
    kind = np.asarray(stable.predictions).dtype.kind
    return "regression" if kind in "fc" else "classification"


def _no_verdict(check: Check, detail: str) -> CheckResult:
    return CheckResult(check.name, None, check.threshold, None, detail)


def _pairs_missing(pairs: PairFigures | None, minimum: int, what: str) -> str:
    if pairs is None:
        return "no mirrored pairs: this check needs a shadow rollout"
    if pairs.pairs < minimum:
        return f"not enough data: {pairs.pairs:,} mirrored rows of the {minimum:,} needed"
    return f"the mirrored pairs carry no {what}"


def _plain(value: float | None) -> float | None:
    return None if value is None else float(value)


def _percent(share: float) -> str:
    return f"{share:.2%}"


def _points(difference: float) -> str:
    """A difference of shares in percentage points, signed."""
    return f"{difference * 100:+.2f} points"
