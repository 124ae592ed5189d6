"""Start and steer rollouts: the Python API that the CLI (and next, the server and the controller) call.

``start`` checks everything before any traffic moves: the alias exists and holds a version other than the
candidate, the candidate exists and loads and predicts on a few rows (``rollouts.candidate``), and no other
rollout is active on the alias (checked again in the transaction that records the new one). ``pause``,
``resume``, ``promote`` and ``abort`` are guarded state changes, each with an audit entry naming its reason.
``active_split`` is what servers read to route a model's traffic; ``reconcile`` stops a rollout whose alias
was moved by hand, so it never fights a person.

Advancing steps on a timer and running the analyses between them is the controller's job
(``rollouts.controller``); it calls ``reconcile`` and ``promote`` from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shipyard.errors import Conflict, InvalidInput, NotFound
from shipyard.refs import ModelRef, validate_alias, validate_name
from shipyard.registry import Registry
from shipyard.rollouts.candidate import check_candidate
from shipyard.rollouts.plan import RolloutPlan
from shipyard.rollouts.routing import Split
from shipyard.rollouts.verdict import ABVerdict
from shipyard.store.rollouts import (
    ACTIVE_STATES,
    RolloutRecord,
    RolloutRepository,
    RolloutStep,
    active_conflict,
)

#: How a rollout's promotion names itself in the alias history; ``reconcile`` recognises it by this.
_PROMOTION_REASON = "rollout {id} promoted v{candidate}"


@dataclass(frozen=True)
class Rollout:
    """A rollout as users see it: its plan, where it stands, and (from ``history``) the steps it took."""

    id: int
    model: str
    alias: str
    strategy: str
    stable: int
    candidate: int
    state: str
    step_index: int
    candidate_share: float
    reason: str
    plan: RolloutPlan
    started_at: datetime
    started_by: str
    updated_at: datetime
    ended_at: datetime | None
    steps: tuple[RolloutStep, ...] = ()

    @property
    def active(self) -> bool:
        """Whether the rollout still routes traffic (running or paused)."""
        return self.state in ACTIVE_STATES

    @property
    def ab_verdict(self) -> ABVerdict | None:
        """An A/B test's verdict (each metric's difference with its confidence interval), from its latest
        analysis that has one; None before it is judged, for other strategies, and without ``steps``."""
        for step in reversed(self.steps):
            for analysis in reversed(step.analyses):
                if analysis.get("ab_verdict") is not None:
                    return ABVerdict.from_dict(analysis["ab_verdict"])
        return None

    def split(self) -> Split | None:
        """How servers divide the model's traffic while the rollout is active; None once it is over."""
        if not self.active:
            return None
        return Split(
            rollout_id=self.id,
            stable=self.stable,
            candidate=self.candidate,
            candidate_share=self.candidate_share,
            shadow=self.strategy == "shadow",
            key=self.plan.routing_key,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "alias": self.alias,
            "strategy": self.strategy,
            "stable": self.stable,
            "candidate": self.candidate,
            "state": self.state,
            "step_index": self.step_index,
            "steps_planned": list(self.plan.steps),
            "candidate_share": self.candidate_share,
            "shadow": self.strategy == "shadow",
            "reason": self.reason,
            "plan": self.plan.to_dict(),
            "started_at": self.started_at.isoformat(),
            "started_by": self.started_by,
            "updated_at": self.updated_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "steps": [step.to_dict() for step in self.steps],
            "ab_verdict": None if (verdict := self.ab_verdict) is None else verdict.to_dict(),
        }


def start(
    registry: Registry, plan: RolloutPlan | Mapping[str, Any], *, reason: str = "", trust: bool = False
) -> Rollout:
    """Start a rollout by ``plan`` (a RolloutPlan, or its keys as in TOML); refused before any traffic
    moves when the alias, the candidate or another rollout on the alias stands in the way, or when the
    candidate fails to load or predict. ``trust`` is needed for formats that can run code on load."""
    if not isinstance(plan, RolloutPlan):
        plan = RolloutPlan.from_dict(plan)
    reconcile(registry, model=plan.model)
    stable = _alias_version(registry, plan.model, plan.alias)
    candidate = registry.get_version(plan.model, plan.candidate)
    if candidate.version == stable:
        raise InvalidInput(
            f"{plan.model}@{plan.alias} already holds v{stable}; a rollout moves it to another version"
        )
    repository = _repository(registry)
    for existing in repository.active(plan.model, plan.alias):
        raise active_conflict(existing)
    check = check_candidate(registry, candidate, trust=trust)
    record = repository.create(
        plan.to_dict(),
        model=plan.model,
        alias=plan.alias,
        stable=stable,
        candidate=candidate.version,
        strategy=plan.strategy,
        candidate_share=plan.steps[0] / 100,
        reason=reason,
        details={"candidate_check": check.to_dict()},
    )
    return _rollout(record)


def get(registry: Registry, rollout_id: int) -> Rollout:
    """One rollout by its id, with its steps and analyses."""
    repository = _repository(registry)
    return _rollout(repository.get(rollout_id), repository.steps(rollout_id))


def status(registry: Registry, model: str | None = None, *, alias: str | None = None) -> list[Rollout]:
    """The active rollouts (of one model, and one alias, when given), oldest first."""
    repository = _repository(registry)
    records = repository.active_all() if model is None else repository.active(validate_name(model), alias)
    return [_rollout(record) for record in records]


def history(registry: Registry, model: str | None = None, *, limit: int = 20) -> list[Rollout]:
    """The newest ``limit`` rollouts (of one model, when given), newest first, each with its steps and the
    analyses recorded during them."""
    if limit < 1:
        raise InvalidInput("limit must be at least 1")
    repository = _repository(registry)
    records = repository.history(validate_name(model) if model is not None else None, limit=limit)
    return [_rollout(record, repository.steps(record.id)) for record in records]


def pause(registry: Registry, model: str, *, alias: str = "production", reason: str = "") -> Rollout:
    """Hold the rollout at its current step: the split stays as it is, no step is taken until resumed."""
    current = _active(registry, model, alias)
    record = _repository(registry).set_state(
        current.id, "paused", reason, expect=("running",), details=_figures(current)
    )
    return _rollout(record)


def resume(registry: Registry, model: str, *, alias: str = "production", reason: str = "") -> Rollout:
    """Let a paused rollout go on from the step it was paused at."""
    current = _active(registry, model, alias)
    record = _repository(registry).set_state(
        current.id, "running", reason, expect=("paused",), details=_figures(current)
    )
    return _rollout(record)


def promote(registry: Registry, model: str, *, alias: str = "production", reason: str = "") -> Rollout:
    """End the rollout by moving the alias to the candidate now, whatever step it is at.

    The alias moves only if it still holds the stable version; if someone moved it meanwhile, the rollout
    is stopped (see ``reconcile``) and the promotion refused.
    """
    current = _active(registry, model, alias)
    why = _PROMOTION_REASON.format(id=current.id, candidate=current.candidate) + (
        f": {reason}" if reason else ""
    )
    try:
        registry.set_alias(
            current.model,
            current.alias,
            current.candidate,
            reason=why,
            action="promote",
            expect_current=current.stable,
        )
    except Conflict:
        reconcile(registry, model=current.model)
        raise
    record = _repository(registry).set_state(
        current.id, "promoted", reason, candidate_share=1.0, details=_figures(current)
    )
    return _rollout(record)


def abort(registry: Registry, model: str, *, alias: str = "production", reason: str = "") -> Rollout:
    """End the rollout and send every request back to stable (the candidate's share drops to 0)."""
    current = _active(registry, model, alias)
    record = _repository(registry).set_state(
        current.id,
        "aborted",
        reason or f"aborted by {registry.actor}",
        candidate_share=0.0,
        details=_figures(current),
    )
    return _rollout(record)


def active_split(registry: Registry, model: str, alias: str = "production") -> Split | None:
    """How ``model@alias``'s traffic is divided now: the active rollout's split, or None (everything to the
    version the alias holds). A rollout whose alias no longer holds its stable version routes nothing."""
    for record in _repository(registry).active(model, alias):
        if _held_version(registry, model, alias) != record.stable:
            return None  # moved by hand: the alias wins; reconcile will stop the rollout
        return _rollout(record).split()
    return None


def reconcile(registry: Registry, *, model: str | None = None) -> list[Rollout]:
    """Settle active rollouts whose alias no longer holds their stable version: ``promoted`` when the move
    was this rollout's own promotion (interrupted before its state was written), ``stopped`` otherwise, with
    a reason naming who moved the alias where. Returns the rollouts it changed."""
    repository = _repository(registry)
    records = repository.active_all() if model is None else repository.active(model)
    changed = []
    for record in records:
        held = _held_version(registry, record.model, record.alias)
        if held == record.stable:
            continue
        moves = registry.alias_history(record.model, record.alias)
        last = moves[-1] if moves else None
        own = _PROMOTION_REASON.format(id=record.id, candidate=record.candidate)
        try:
            if held == record.candidate and last is not None and last.reason.startswith(own):
                updated = repository.set_state(record.id, "promoted", last.reason, candidate_share=1.0)
            else:
                updated = repository.set_state(
                    record.id, "stopped", _moved_by_hand(record, held, last), candidate_share=0.0
                )
        except Conflict:
            continue  # settled meanwhile by someone else
        changed.append(_rollout(updated))
    return changed


def _moved_by_hand(record: RolloutRecord, held: int | None, last: Any) -> str:
    where = f"to v{held}" if held is not None else "away (deleted)"
    who = f" by {last.actor}" if last is not None else ""
    why = f" ({last.reason})" if last is not None and last.reason else ""
    return (
        f"{record.model}@{record.alias} was moved {where}{who}{why} during the rollout from "
        f"v{record.stable} to v{record.candidate}; the rollout stopped and traffic follows the alias"
    )


def _repository(registry: Registry) -> RolloutRepository:
    return RolloutRepository(registry.db, registry.actor)


def _active(registry: Registry, model: str, alias: str) -> RolloutRecord:
    validate_name(model)
    validate_alias(alias)
    reconcile(registry, model=model)
    for record in _repository(registry).active(model, alias):
        return record
    raise NotFound(
        f"{model}@{alias} has no active rollout; see past ones with 'shipyard rollout history {model}' or "
        f"start one with 'shipyard rollout start {model} --to <version>'"
    )


def _alias_version(registry: Registry, model: str, alias: str) -> int:
    """The version ``model@alias`` holds: the rollout's stable version. NotFound saying what to do."""
    try:
        return registry.resolve(ModelRef(model=validate_name(model), alias=validate_alias(alias))).version
    except NotFound as missing:
        if "alias" not in str(missing):
            raise
        raise NotFound(
            f"{missing}; a rollout moves an alias from the version it holds: point it at the current "
            f"version first (shipyard alias set {model}@{alias} <version>)"
        ) from None


def _held_version(registry: Registry, model: str, alias: str) -> int | None:
    try:
        return registry.resolve(ModelRef(model=model, alias=alias)).version
    except NotFound:
        return None


def _figures(record: RolloutRecord) -> dict[str, Any]:
    return {
        "stable": record.stable,
        "candidate": record.candidate,
        "step_index": record.step_index,
        "previous_share": record.candidate_share,
    }


def _rollout(record: RolloutRecord, steps: list[RolloutStep] | None = None) -> Rollout:
    return Rollout(
        id=record.id,
        model=record.model,
        alias=record.alias,
        strategy=record.strategy,
        stable=record.stable,
        candidate=record.candidate,
        state=record.state,
        step_index=record.step_index,
        candidate_share=record.candidate_share,
        reason=record.reason,
        plan=RolloutPlan.from_dict(record.plan),
        started_at=record.started_at,
        started_by=record.started_by,
        updated_at=record.updated_at,
        ended_at=record.ended_at,
        steps=tuple(steps or ()),
    )
