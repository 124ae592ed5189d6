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
prediction_drift   the monitors' drift statistics on the arms' outputs, stable's as the             0.05
                   reference: the prediction (categorical for a classifier, numeric for a
                   regressor) and a binary classifier's score; fails when the outputs drift by
                   the monitors' rules. The threshold is the p-value the test uses (KS, or χ² for
                   labels) while the candidate has ≤ 1,000 values; larger windows are judged by
                   the distance with the monitors' threshold (Wasserstein ≥ 0.1, Jensen–Shannon
                   ≥ 0.1), as the monitors do, since every small difference is "significant" there
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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.rollouts.plan import Check
from shipyard.stats import Profile, ProfileLayout
from shipyard.stats.drift import ColumnDrift, ColumnRule, DriftOptions, Method, compare

Verdict = Literal["pass", "fail", "not_enough_data"]
Task = Literal["classification", "regression"]
_PREDICTION, _SCORE = "_prediction", "_score"  # the prediction log's output column names
_TESTS: dict[str, Method] = {"numeric": "ks", "categorical": "chi_square"}
_DIGITS = 12


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
    (for the audit entry and the rollout's history)."""

    verdict: Verdict
    results: list[CheckResult]
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[CheckResult]:
        return [result for result in self.results if result.passed is False]

    def result(self, name: str) -> CheckResult | None:
        return next((result for result in self.results if result.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (no NaN, no infinity) that :meth:`from_dict` turns back into an equal analysis."""
        return {
            "verdict": self.verdict,
            "results": [result.to_dict() for result in self.results],
            "figures": self.figures,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Analysis:
        verdict = data.get("verdict")
        if verdict not in ("pass", "fail", "not_enough_data"):
            raise InvalidInput(f"an analysis's verdict is pass, fail or not_enough_data, got {verdict!r}")
        results = [CheckResult.from_dict(item) for item in data.get("results", [])]
        return cls(verdict, results, dict(data.get("figures", {})))


def analyse(
    checks: Sequence[Check],
    stable: ArmFigures,
    candidate: ArmFigures,
    pairs: PairFigures | None = None,
    *,
    min_requests: int,
    task: Task | None = None,
    wait_for_labels: bool = True,
) -> Analysis:
    """Judge one step: run each check on the arms' figures (``candidate`` is the canary or shadow arm).

    With fewer than ``min_requests`` requests on either arm, every check has no verdict and the analysis
    says "not_enough_data". ``task`` says whether predictions are labels or values for prediction_drift
    (None: a classifier when there are scores or the predictions are not floats). With ``wait_for_labels``
    false, an accuracy check still waiting for labels is shown but does not hold the verdict back.
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
    return Analysis(verdict, results, figures)


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
    reference_frame, current_frame = frames
    kinds: dict[str, Literal["numeric", "categorical"]] = {
        _PREDICTION: "categorical"
        if (task or _guess_task(stable, candidate)) == "classification"
        else "numeric"
    }
    if _SCORE in reference_frame:
        kinds[_SCORE] = "numeric"
    layout = ProfileLayout.infer(reference_frame, kinds=kinds)
    reference, current = Profile.build(reference_frame, layout), Profile.build(current_frame, layout)
    options = DriftOptions()
    # The monitors' rule: a test while the window is small (with this check's p-value), else a distance
    # with the monitors' own threshold.
    rules = {
        name: ColumnRule(_TESTS[kinds[name]], check.threshold)
        for name in layout.columns
        if current.columns[name].count <= options.small_window
    }
    drift = compare(reference, current, DriftOptions(options.small_window, options.drift_share, rules))
    judged = drift.judged
    if not judged:
        return _no_verdict(check, "no non-null predictions on one of the arms")
    deciding = next((column for column in judged if column.drifted), judged[0])
    value = deciding.p_value if deciding.p_value is not None else deciding.distance
    return CheckResult(
        check.name,
        value,  # not rounded: the monitors' rule (p < threshold, distance ≥ threshold) decided on it
        deciding.threshold,
        not drift.drifted,
        "; ".join(_describe_drift(column) for column in drift.columns),
    )


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


def _describe_drift(column: ColumnDrift) -> str:
    name = {"_prediction": "prediction", "_score": "score"}.get(column.column, column.column)
    if column.no_data:
        return f"{name}: no data"
    verdict = "drifted" if column.drifted else "no drift"
    if column.p_value is not None:
        return (
            f"{name}: {column.method} p = {column.p_value:.3g}, {verdict} (drift below {column.threshold:g})"
        )
    return f"{name}: {column.method} {column.distance:.3g}, {verdict} (drift at {column.threshold:g} or more)"


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
