"""The rollout controller: it makes every running rollout advance by itself, with the prediction log as
the judge.

``advance`` is one pass over every active rollout. It first settles rollouts whose alias was moved by hand
(``service.reconcile``: they stop). A paused rollout waits. For a running one, when the current step has
run ``interval`` (counted from the step's start, or from the resume after a pause), it cuts both arms'
figures since the step began from the prediction log (``rollouts.figures``), judges them with the plan's
checks (``analysis.analyse``), records the analysis in the rollout's history, and then:

* a check that failed ``failure_limit`` analyses in a row → **abort**: the candidate's share drops to 0,
  the audit entry names the check and its figures, and a notification goes through the workspace's alert
  channels;
* a pass → the **next step**, or after the last step the alias moves to the candidate (**promote**, through
  ``service.promote``; the alias history names the rollout and the analysis);
* not enough data → **wait** and analyse again one interval later; once ``max_wait`` has passed without
  enough data the rollout ends **failed** with "not enough data" — it never promotes on no data.

Per strategy: a canary walks its steps (at 100% stable answers nothing, so the last step is judged against
stable's figures over as long just before it). An A/B test is judged once, after ``interval`` or as soon as
both arms have ``sample_size`` requests: pass promotes, fail aborts (its verdict is final); that analysis
carries the A/B verdict (each metric's difference with a confidence interval at the plan's ``confidence``,
``rollouts.verdict``), and the reason of the promotion or abort ends with it. Blue-green
switches all traffic at its only step; it is analysed every ``interval`` during ``hold`` (stable's figures are
those of the same length of time before the switch, when stable answered everything) and promoted when the
hold is over and the latest analysis passed. A shadow rollout is analysed after ``interval``: pass ends it
``passed`` with the alias untouched (the candidate has never answered a client: putting it live is a decision
for a canary or a promotion by hand), fail aborts it.

Everything the controller needs lives in the metadata database (the step's start, the analyses and the
windows they judged), so a restarted controller — or a second one on another machine — takes up where the
last one was. Two controllers passing at once judge a step once: an analysis is recorded only while the
step still has the analyses its controller read, so the slower one gets a Conflict and does nothing. The
decisions are pure functions (:func:`step_clock`, :func:`next_analysis_at`, :func:`decide`), tested without
a database; :func:`advance` does the reading and writing around them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from shipyard.alerts import Notification, notify
from shipyard.errors import Conflict, ShipyardError
from shipyard.predictions import PredictionLog
from shipyard.registry import Registry
from shipyard.rollouts import service
from shipyard.rollouts.analysis import Analysis, CheckResult, analyse, should_abort
from shipyard.rollouts.figures import StepFigures, step_figures
from shipyard.rollouts.plan import RolloutPlan
from shipyard.rollouts.service import Rollout
from shipyard.store.rollouts import RolloutRepository

logger = logging.getLogger("shipyard.rollouts")

Action = Literal["wait", "step", "promote", "abort", "fail", "pass", "stop"]
NOT_ENOUGH_DATA = "not enough data"


@dataclass(frozen=True)
class StepClock:
    """Where a running rollout stands in time: its step, when the step began, since when it has run
    without a pause, and the analyses recorded during the step (as stored, oldest first)."""

    step_index: int
    entered_at: datetime
    running_since: datetime
    analyses: tuple[dict[str, Any], ...] = ()

    @property
    def last_analysis_at(self) -> datetime | None:
        """The end of the latest analysis window of this step."""
        windows = [_window(analysis) for analysis in self.analyses]
        ends = [window[1] for window in windows if window is not None]
        return max(ends) if ends else None

    def window_start(self) -> datetime:
        """Where the next analysis's figures begin: the step's start, or the end of the last analysis that
        judged (failed) the candidate — its data counted once; "not enough data" keeps accumulating."""
        start = self.entered_at
        for analysis in self.analyses:
            window = _window(analysis)
            if analysis.get("verdict") == "fail" and window is not None:
                start = max(start, window[1])
        return start


@dataclass(frozen=True)
class Decision:
    """What to do with a rollout after an analysis: ``step`` to ``step_index`` at ``share``, ``promote``,
    ``abort`` (``check`` failed), ``fail`` (not enough data), ``pass`` (shadow), or ``wait``."""

    action: Action
    reason: str
    step_index: int | None = None
    share: float | None = None
    check: CheckResult | None = None


@dataclass(frozen=True)
class Transition:
    """What one pass did to one rollout."""

    rollout_id: int
    model: str
    alias: str
    action: Action
    state: str
    step_index: int
    candidate_share: float
    reason: str
    analysis: dict[str, Any] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rollout": self.rollout_id,
            "model": self.model,
            "alias": self.alias,
            "action": self.action,
            "state": self.state,
            "step_index": self.step_index,
            "candidate_share": self.candidate_share,
            "reason": self.reason,
            "verdict": None if self.analysis is None else self.analysis.get("verdict"),
            "ab_verdict": None if self.analysis is None else self.analysis.get("ab_verdict"),
        }


# The decisions: pure functions of the plan, the step's clock, the analyses and the time.


def step_clock(rollout: Rollout) -> StepClock:
    """The clock of ``rollout``'s current step, from its stored steps (``service.get``)."""
    current = [step for step in rollout.steps if step.step_index == rollout.step_index]
    entered = current[-1].at if current else rollout.started_at
    analyses = tuple(current[-1].analyses) if current else ()
    # updated_at moves only when the step changes or the rollout resumes: it is when it last started running.
    return StepClock(rollout.step_index, entered, max(entered, rollout.updated_at), analyses)


def next_analysis_at(plan: RolloutPlan, clock: StepClock) -> datetime:
    """When the step's next analysis is due: one ``interval`` after it began running or after its last
    analysis; earlier at the end of a blue-green hold and at the ``max_wait`` deadline, so neither is
    decided late."""
    last = clock.last_analysis_at
    base = clock.running_since if last is None else max(clock.running_since, last)
    due = base + timedelta(seconds=plan.interval)
    marks = [clock.running_since + timedelta(seconds=plan.max_wait or plan.interval)]
    if plan.strategy == "blue_green":
        marks.append(clock.running_since + timedelta(seconds=plan.hold))
    for mark in marks:
        if (last is None or last < mark) and base < mark < due:
            due = mark
    return due


def decide(plan: RolloutPlan, clock: StepClock, analyses: Sequence[Analysis], now: datetime) -> Decision:
    """What follows the latest of ``analyses`` (every analysis of the rollout, oldest first). An A/B test's
    verdict with its confidence intervals is added to the reason of the decision that ends it, so the
    rollout's reason, its audit entry and the alias history carry it."""
    decision = _decide(plan, clock, analyses, now)
    ab = analyses[-1].ab_verdict
    if ab is not None and decision.action in ("promote", "abort"):
        return replace(decision, reason=f"{decision.reason}; {ab.summary()}")
    return decision


def _decide(plan: RolloutPlan, clock: StepClock, analyses: Sequence[Analysis], now: datetime) -> Decision:
    latest = analyses[-1]
    failing = should_abort(plan.checks, analyses)
    if plan.strategy == "ab" and latest.verdict == "fail":
        failing = latest.failed[0]  # an A/B verdict is final
    if failing is not None:
        return Decision("abort", f"check {failing.name} failed: {failing.detail}", check=failing)
    if latest.verdict == "pass":
        return _after_a_pass(plan, clock, now)
    if latest.verdict == "not_enough_data":
        if now >= clock.running_since + timedelta(seconds=plan.max_wait or plan.interval):
            detail = next((r.detail for r in latest.results if r.passed is None), "")
            detail = detail.removeprefix(f"{NOT_ENOUGH_DATA}: ")
            waited = f"{plan.max_wait or plan.interval:g} s"
            return Decision(
                "fail", f"{NOT_ENOUGH_DATA} after {waited} at step {clock.step_index + 1}: {detail}"
            )
        return Decision("wait", f"{NOT_ENOUGH_DATA} yet; analysing again in {plan.interval:g} s")
    failed = ", ".join(result.name for result in latest.failed)
    return Decision("wait", f"{failed} failed; analysing again in {plan.interval:g} s (failure_limit)")


def _after_a_pass(plan: RolloutPlan, clock: StepClock, now: datetime) -> Decision:
    shown = f"step {clock.step_index + 1} of {len(plan.steps)} passed its analysis"
    if plan.strategy == "shadow":
        return Decision("pass", "the shadow analysis passed; the alias stays where it is")
    if plan.strategy == "blue_green" and now < clock.running_since + timedelta(seconds=plan.hold):
        return Decision(
            "wait", f"the analysis passed; holding stable warm until the hold of {plan.hold:g} s ends"
        )
    if plan.strategy == "canary" and clock.step_index + 1 < len(plan.steps):
        index = clock.step_index + 1
        return Decision("step", f"{shown}; to {plan.steps[index]}%", index, plan.shares[index])
    return Decision(
        "promote", f"{shown}" if plan.strategy == "canary" else f"the {plan.strategy} analysis passed"
    )


# The passes: reading the figures, recording the analyses, and applying the decisions.


def advance(registry: Registry, log: PredictionLog, now: datetime | None = None) -> list[Transition]:
    """One pass over every active rollout (see the module doc); what changed, and every analysis run."""
    now = now or datetime.now(UTC)
    done = [
        _transition(settled, "promote" if settled.state == "promoted" else "stop", settled.reason)
        for settled in service.reconcile(registry)
    ]
    for current in service.status(registry):
        if current.state != "running":
            continue  # paused: the split stays, no step is taken
        try:
            outcome = _advance_one(registry, log, service.get(registry, current.id), now)
        except Conflict as changed:  # paused, ended or stepped by someone else meanwhile
            logger.info("rollout %s changed while it was analysed: %s", current.id, changed)
            continue
        except ShipyardError as error:  # this rollout's trouble must not hold the others back
            logger.warning("rollout %s could not be advanced: %s", current.id, error)
            continue
        if outcome is not None:
            done.append(outcome)
    return done


def _advance_one(
    registry: Registry, log: PredictionLog, rollout: Rollout, now: datetime
) -> Transition | None:
    plan, clock = rollout.plan, step_clock(rollout)
    start = clock.window_start()
    figures: StepFigures | None = None
    if now < next_analysis_at(plan, clock):
        if plan.strategy != "ab" or plan.sample_size is None or now <= start:
            return None
        figures = _figures(registry, log, rollout, start, now)
        if min(figures.stable.requests, figures.candidate.requests) < plan.sample_size:
            return None
    if now <= start:
        return None
    figures = figures or _figures(registry, log, rollout, start, now)
    analysis = _analyse(registry, rollout, figures)
    stored = {**analysis.to_dict(), "window": {"start": start.isoformat(), "end": now.isoformat()}}
    # Recorded only if no other controller analysed the step since it was read (Conflict otherwise, which
    # advance passes over): two controllers on one database judge each step once.
    RolloutRepository(registry.db, registry.actor).record_analysis(
        rollout.id, rollout.step_index, stored, expect_analyses=len(clock.analyses)
    )
    history = [Analysis.from_dict(item) for step in rollout.steps for item in step.analyses]
    decision = decide(plan, clock, [*history, analysis], now)
    return _apply(registry, rollout, decision, stored)


def _figures(
    registry: Registry, log: PredictionLog, rollout: Rollout, start: datetime, end: datetime
) -> StepFigures:
    stable_window = None
    if rollout.strategy == "blue_green":  # stable answers nothing after the switch: compare with before it
        stable_window = (rollout.started_at - (end - start), rollout.started_at)
    elif rollout.candidate_share >= 1.0:  # a canary's last step: stable answers nothing; as long before it
        entered = step_clock(rollout).entered_at
        stable_window = (entered - (end - start), entered)
    return step_figures(
        registry,
        log,
        model=rollout.model,
        stable=rollout.stable,
        candidate=rollout.candidate,
        strategy=rollout.strategy,
        window=(start, end),
        stable_window=stable_window,
    )


def _analyse(registry: Registry, rollout: Rollout, figures: StepFigures) -> Analysis:
    task = registry.get_version(rollout.model, rollout.candidate).info.task
    return analyse(
        rollout.plan.checks,
        figures.stable,
        figures.candidate,
        figures.pairs,
        min_requests=rollout.plan.min_requests,
        task=task if task in ("classification", "regression") else None,
        wait_for_labels=rollout.plan.wait_for_labels,
        confidence=rollout.plan.confidence if rollout.strategy == "ab" else None,
    )


def _apply(registry: Registry, rollout: Rollout, decision: Decision, analysis: dict[str, Any]) -> Transition:
    repository = RolloutRepository(registry.db, registry.actor)
    figures = {"analysis": analysis, "step_index": rollout.step_index, "stable": rollout.stable}
    if decision.action == "step":
        assert decision.step_index is not None and decision.share is not None
        record = repository.set_step(
            rollout.id,
            decision.step_index,
            decision.share,
            expect=("running",),
            expect_step=rollout.step_index,
        )
        return _transition(service.get(registry, record.id), "step", decision.reason, analysis)
    if decision.action == "promote":
        why = f"{decision.reason} (analysis of step {rollout.step_index + 1}: {analysis['verdict']})"
        promoted = service.promote(registry, rollout.model, alias=rollout.alias, reason=why)
        return _transition(promoted, "promote", decision.reason, analysis)
    if decision.action in ("abort", "fail", "pass"):
        state = {"abort": "aborted", "fail": "failed", "pass": "passed"}[decision.action]
        check = None if decision.check is None else decision.check.to_dict()
        record = repository.set_state(
            rollout.id,
            state,
            decision.reason,
            expect=("running",),
            candidate_share=0.0 if decision.action != "pass" else None,
            details={**figures, "check": check},
        )
        ended = service.get(registry, record.id)
        if decision.action != "pass":
            _notify(registry, ended, decision, analysis)
        return _transition(ended, decision.action, decision.reason, analysis)
    return _transition(rollout, "wait", decision.reason, analysis)


def _notify(registry: Registry, rollout: Rollout, decision: Decision, analysis: dict[str, Any]) -> None:
    """Tell the workspace's alert channels that a rollout ended badly; a broken channel setup is logged."""
    what = "aborted" if decision.action == "abort" else "failed"
    summary = (
        f"rollout {rollout.id} of {rollout.model}@{rollout.alias} (v{rollout.stable} → v{rollout.candidate}) "
        f"{what}: {decision.reason}; all traffic is back on v{rollout.stable}"
    )
    facts = {
        "rule": "rollout",
        "model": rollout.model,
        "alias": rollout.alias,
        "rollout": rollout.id,
        "stable": rollout.stable,
        "candidate": rollout.candidate,
        "state": rollout.state,
        "severity": "critical" if decision.action == "abort" else "warning",
        "check": None if decision.check is None else decision.check.to_dict(),
        "figures": analysis.get("figures", {}),
        "sent_at": datetime.now(UTC).isoformat(),
    }
    try:
        notify(registry, Notification("firing", summary, facts))
    except ShipyardError as error:  # e.g. an [alerts] table that does not parse: the abort stands
        logger.error("rollout %s %s, but its notification could not be sent: %s", rollout.id, what, error)


def _transition(
    rollout: Rollout, action: Action, reason: str, analysis: dict[str, Any] | None = None
) -> Transition:
    return Transition(
        rollout.id,
        rollout.model,
        rollout.alias,
        action,
        rollout.state,
        rollout.step_index,
        rollout.candidate_share,
        reason,
        analysis,
    )


def _window(analysis: dict[str, Any]) -> tuple[datetime, datetime] | None:
    window = analysis.get("window")
    if not isinstance(window, dict):
        return None
    return datetime.fromisoformat(window["start"]), datetime.fromisoformat(window["end"])
