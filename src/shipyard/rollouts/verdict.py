"""The verdict of an A/B test: for each metric both arms have, the candidate − stable difference with a
confidence interval, and whether the candidate is better, worse, or not significantly different.

An A/B test holds a fixed split for a fixed time or sample size; its checks then decide promote or abort
(``rollouts.analysis``), and this verdict says with what confidence the arms differ — the figure a person
reads before trusting the outcome. It is computed from the same arm figures as the final analysis and
stored with it.

Metrics, each a share of independent trials, so each gets the same interval:

* ``error_rate``: failed requests / requests (lower is better);
* ``accuracy``: correct / labelled rows, once both arms have labels (higher is better).

The interval for a difference of two proportions is Newcombe's hybrid score interval (Newcombe 1998,
method 10): each arm's Wilson score interval, combined as
``d − √((p̂₁ − l₁)² + (u₂ − p̂₂)²)`` to ``d + √((u₁ − p̂₁)² + (p̂₂ − l₂)²)``. Unlike the Wald interval it
stays inside [−1, 1], keeps close to its nominal coverage with few events (an error rate of 0.1% is the
usual case here) and is not degenerate when an arm has no event at all. A metric is "candidate better" or
"candidate worse" when its interval excludes 0, else "no significant difference"; the metrics are judged
one by one at the plan's ``confidence`` (no correction across the two), and the overall verdict is
"mixed" when one is better and another worse. Latency has no verdict: an arm's figures keep its p99, not
the per-request latencies an interval would need.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal

from shipyard.errors import InvalidInput

Outcome = Literal["candidate better", "candidate worse", "no significant difference"]
Overall = Literal["candidate better", "candidate worse", "no significant difference", "mixed"]
METHOD = "Newcombe hybrid score (Wilson)"
#: The confidence level of a plan that gives none.
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """A confidence interval ``[low, high]``."""

    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class MetricVerdict:
    """One metric compared: each arm's share (``stable_count`` of ``stable_total``, and the candidate's),
    the candidate − stable ``difference`` with its ``interval``, and the ``outcome``."""

    metric: str
    stable: float
    candidate: float
    stable_count: int
    stable_total: int
    candidate_count: int
    candidate_total: int
    difference: float
    interval: Interval
    higher_is_better: bool
    outcome: Outcome

    def describe(self, confidence: float) -> str:
        """``error rate -1.20 points (95% CI -1.90 to -0.50): candidate better``."""
        low, high = self.interval.low * 100, self.interval.high * 100
        return (
            f"{self.metric.replace('_', ' ')} {self.difference * 100:+.2f} points "
            f"({confidence:.0%} CI {low:+.2f} to {high:+.2f}): {self.outcome}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "stable": self.stable,
            "candidate": self.candidate,
            "stable_count": self.stable_count,
            "stable_total": self.stable_total,
            "candidate_count": self.candidate_count,
            "candidate_total": self.candidate_total,
            "difference": self.difference,
            "low": self.interval.low,
            "high": self.interval.high,
            "higher_is_better": self.higher_is_better,
            "outcome": self.outcome,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricVerdict:
        return cls(
            metric=str(data["metric"]),
            stable=float(data["stable"]),
            candidate=float(data["candidate"]),
            stable_count=int(data["stable_count"]),
            stable_total=int(data["stable_total"]),
            candidate_count=int(data["candidate_count"]),
            candidate_total=int(data["candidate_total"]),
            difference=float(data["difference"]),
            interval=Interval(float(data["low"]), float(data["high"])),
            higher_is_better=bool(data["higher_is_better"]),
            outcome=data["outcome"],
        )


@dataclass(frozen=True)
class ABVerdict:
    """The verdict of an A/B test at ``confidence``: each metric's, and the ``overall`` one."""

    confidence: float
    metrics: tuple[MetricVerdict, ...]

    @property
    def overall(self) -> Overall:
        outcomes = {metric.outcome for metric in self.metrics}
        better, worse = "candidate better" in outcomes, "candidate worse" in outcomes
        if better and worse:
            return "mixed"
        if worse:
            return "candidate worse"
        return "candidate better" if better else "no significant difference"

    def metric(self, name: str) -> MetricVerdict | None:
        return next((metric for metric in self.metrics if metric.metric == name), None)

    def summary(self) -> str:
        """One line: ``A/B verdict at 95%: candidate better (error rate ...; accuracy ...)``."""
        shown = "; ".join(metric.describe(self.confidence) for metric in self.metrics)
        return f"A/B verdict at {self.confidence:.0%}: {self.overall} ({shown or 'no metric to compare'})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "confidence": self.confidence,
            "method": METHOD,
            "overall": self.overall,
            "summary": self.summary(),
            "metrics": [metric.to_dict() for metric in self.metrics],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ABVerdict:
        metrics = tuple(MetricVerdict.from_dict(item) for item in data.get("metrics", []))
        return cls(float(data["confidence"]), metrics)


def ab_verdict(
    confidence: float,
    *,
    stable_requests: int,
    stable_errors: int,
    candidate_requests: int,
    candidate_errors: int,
    stable_labelled: int = 0,
    stable_correct: int = 0,
    candidate_labelled: int = 0,
    candidate_correct: int = 0,
) -> ABVerdict:
    """Compare the arms on error rate (when both had requests) and accuracy (when both have labels)."""
    metrics = []
    if stable_requests > 0 and candidate_requests > 0:
        metrics.append(
            compare_shares(
                "error_rate",
                (stable_errors, stable_requests),
                (candidate_errors, candidate_requests),
                confidence,
                higher_is_better=False,
            )
        )
    if stable_labelled > 0 and candidate_labelled > 0:
        metrics.append(
            compare_shares(
                "accuracy",
                (stable_correct, stable_labelled),
                (candidate_correct, candidate_labelled),
                confidence,
                higher_is_better=True,
            )
        )
    return ABVerdict(confidence, tuple(metrics))


def compare_shares(
    metric: str,
    stable: tuple[int, int],
    candidate: tuple[int, int],
    confidence: float,
    *,
    higher_is_better: bool,
) -> MetricVerdict:
    """One metric's verdict from each arm's (count, total)."""
    interval = newcombe_interval(candidate, stable, confidence)
    share_stable, share_candidate = stable[0] / stable[1], candidate[0] / candidate[1]
    outcome: Outcome = "no significant difference"
    if interval.excludes_zero():
        candidate_higher = interval.low > 0
        outcome = "candidate better" if candidate_higher == higher_is_better else "candidate worse"
    return MetricVerdict(
        metric,
        share_stable,
        share_candidate,
        stable[0],
        stable[1],
        candidate[0],
        candidate[1],
        share_candidate - share_stable,
        interval,
        higher_is_better,
        outcome,
    )


def newcombe_interval(first: tuple[int, int], second: tuple[int, int], confidence: float) -> Interval:
    """Newcombe's hybrid score interval for p₁ − p₂, each arm given as (count, total)."""
    p1, p2 = first[0] / first[1], second[0] / second[1]
    l1, u1 = wilson_interval(*first, confidence)
    l2, u2 = wilson_interval(*second, confidence)
    difference = p1 - p2
    return Interval(
        difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
        difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2),
    )


def wilson_interval(count: int, total: int, confidence: float) -> tuple[float, float]:
    """Wilson's score interval for a proportion ``count / total``."""
    check_confidence(confidence)
    if total < 1 or not 0 <= count <= total:
        raise InvalidInput(f"a share needs 0 <= count <= total and total >= 1, got {count} of {total}")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    share, z2 = count / total, z * z
    centre = (share + z2 / (2 * total)) / (1 + z2 / total)
    half = z / (1 + z2 / total) * math.sqrt(share * (1 - share) / total + z2 / (4 * total * total))
    return max(0.0, centre - half), min(1.0, centre + half)


def check_confidence(confidence: object) -> float:
    """``confidence`` as a float strictly between 0 and 1, else an InvalidInput saying what to give."""
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise InvalidInput(
            f"confidence is the A/B verdict's confidence level, a number between 0 and 1 like 0.95; "
            f"got {confidence!r}"[:160]
        )
    if not (math.isfinite(confidence) and 0 < confidence < 1):
        hint = f"; did you mean {confidence / 100:g}?" if 1 < confidence < 100 else ""
        raise InvalidInput(
            f"confidence is a level strictly between 0 and 1, like 0.95; got {confidence:g}{hint}"
        )
    return float(confidence)
