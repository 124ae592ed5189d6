"""Rollouts in the metadata database: each rollout's plan and state, the steps it entered, its analyses.

The rollouts service decides what a rollout may do; this repository keeps its rows and enforces the rules
that must hold under concurrency: at most one active (running or paused) rollout per model alias, checked
under the model's write lock in the transaction that inserts the new one; state changes that only happen
from the state the caller saw (``expect``); and one analysis per rollout, step and number of analyses
before it (``expect_analyses``), checked under the rollout's row lock, so two controllers never both judge
one step. Every change writes its audit event in the same transaction, so the trail and the state can never
disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shipyard.errors import Conflict, NotFound
from shipyard.store.audit import record_audit
from shipyard.store.database import Database
from shipyard.store.models import lock_model
from shipyard.store.schema import AliasRow, ModelRow, RolloutAnalysisRow, RolloutRow, RolloutStepRow

#: A rollout in one of these states routes traffic; the others are over.
ACTIVE_STATES = ("running", "paused")
#: ``passed``: a shadow rollout whose analysis passed (the alias stays; the controller ends it there).
STATES = ("running", "paused", "promoted", "aborted", "failed", "stopped", "passed")
ENDED_STATES = tuple(state for state in STATES if state not in ACTIVE_STATES)


@dataclass(frozen=True)
class RolloutRecord:
    """One rollout as stored: what moves where, by which plan, and where it stands."""

    id: int
    model: str
    alias: str
    strategy: str
    stable: int
    candidate: int
    state: str
    step_index: int
    candidate_share: float
    plan: dict[str, Any]
    reason: str
    started_at: datetime
    started_by: str
    updated_at: datetime
    ended_at: datetime | None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


@dataclass(frozen=True)
class RolloutStep:
    """A step a rollout entered, with the analyses recorded while it lasted (oldest first)."""

    step_index: int
    candidate_share: float
    at: datetime
    actor: str
    analyses: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "step_index": self.step_index,
            "candidate_share": self.candidate_share,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "analyses": list(self.analyses),
        }


class RolloutRepository:
    """The rollouts of one metadata database; changes are stamped with ``actor``."""

    def __init__(self, db: Database, actor: str) -> None:
        self.db = db
        self.actor = actor

    def create(
        self,
        plan: dict[str, Any],
        *,
        model: str,
        alias: str,
        stable: int,
        candidate: int,
        strategy: str,
        candidate_share: float,
        reason: str = "",
        details: dict[str, Any] | None = None,
    ) -> RolloutRecord:
        """Record a running rollout at its first step, unless the model's alias already has an active one
        (Conflict naming it) or no longer holds ``stable`` (Conflict: it moved while the start was checked).
        ``details`` go into the ``rollout.start`` audit event beside the plan."""

        def work(session: Session) -> RolloutRecord:
            lock_model(session, model)  # serialises starts on one model, on SQLite and PostgreSQL alike
            existing = _active_rows(session, model, alias)
            if existing:
                raise active_conflict(_record(existing[0]))
            held = _alias_version(session, model, alias)
            if held != stable:
                now_at = f"v{held}" if held is not None else "nothing"
                raise Conflict(
                    f"{model}@{alias} moved to {now_at} while the rollout from v{stable} was being checked; "
                    "start it again"
                )
            now = datetime.now(UTC)
            row = RolloutRow(
                model=model,
                alias=alias,
                strategy=strategy,
                stable=stable,
                candidate=candidate,
                state="running",
                step_index=0,
                candidate_share=candidate_share,
                plan=plan,
                reason=reason,
                started_at=now,
                started_by=self.actor,
                updated_at=now,
                ended_at=None,
            )
            session.add(row)
            session.flush()
            session.add(
                RolloutStepRow(
                    rollout_id=row.id, step_index=0, candidate_share=candidate_share, at=now, actor=self.actor
                )
            )
            record_audit(
                session,
                actor=self.actor,
                action="rollout.start",
                model=model,
                target=f"{model}@{alias}",
                before={"version": stable},
                after={"rollout": row.id, "candidate": candidate, "plan": plan, **(details or {})},
                reason=reason,
            )
            return _record(row)

        return self.db.write(work)

    def get(self, rollout_id: int) -> RolloutRecord:
        """One rollout, or NotFound."""
        with self.db.reading() as session:
            return _record(_row(session, rollout_id))

    def active(self, model: str, alias: str | None = None) -> list[RolloutRecord]:
        """The model's active rollouts (of one alias, when given), oldest first."""
        with self.db.reading() as session:
            query = select(RolloutRow).where(RolloutRow.model == model, RolloutRow.state.in_(ACTIVE_STATES))
            if alias is not None:
                query = query.where(RolloutRow.alias == alias)
            return [_record(row) for row in session.execute(query.order_by(RolloutRow.id)).scalars()]

    def active_all(self) -> list[RolloutRecord]:
        """Every active rollout of every model, oldest first."""
        with self.db.reading() as session:
            query = select(RolloutRow).where(RolloutRow.state.in_(ACTIVE_STATES)).order_by(RolloutRow.id)
            return [_record(row) for row in session.execute(query).scalars()]

    def history(self, model: str | None = None, *, limit: int = 50) -> list[RolloutRecord]:
        """The newest ``limit`` rollouts (of one model, when given), newest first."""
        query = select(RolloutRow).order_by(RolloutRow.id.desc()).limit(limit)
        if model is not None:
            query = query.where(RolloutRow.model == model)
        with self.db.reading() as session:
            return [_record(row) for row in session.execute(query).scalars()]

    def set_state(
        self,
        rollout_id: int,
        state: str,
        reason: str,
        *,
        expect: Iterable[str] = ACTIVE_STATES,
        candidate_share: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> RolloutRecord:
        """Move a rollout to ``state`` (and ``candidate_share``, when given) if it is still in one of the
        ``expect`` states, with a ``rollout.<verb>`` audit event carrying ``details``; Conflict otherwise."""
        if state not in STATES:
            raise ValueError(f"unknown rollout state {state!r}")
        expected = tuple(expect)

        def work(session: Session) -> RolloutRecord:
            row = _row(session, rollout_id, lock=True)
            if row.state not in expected:
                raise Conflict(
                    f"rollout {row.id} of {row.model}@{row.alias} is {row.state}, not "
                    f"{' or '.join(expected)}" + (f" ({row.reason})" if row.reason else "")
                )
            before = {"state": row.state, "candidate_share": row.candidate_share}
            now = datetime.now(UTC)
            row.state, row.reason, row.updated_at = state, reason, now
            if candidate_share is not None:
                row.candidate_share = candidate_share
            if state in ENDED_STATES:
                row.ended_at = now
            record_audit(
                session,
                actor=self.actor,
                action=f"rollout.{_VERBS.get(state, state)}",
                model=row.model,
                target=f"{row.model}@{row.alias}",
                before=before,
                after={
                    "rollout": row.id,
                    "state": state,
                    "candidate_share": row.candidate_share,
                    **(details or {}),
                },
                reason=reason,
            )
            return _record(row)

        return self.db.write(work)

    def set_step(
        self,
        rollout_id: int,
        step_index: int,
        candidate_share: float,
        *,
        expect: Iterable[str] = ACTIVE_STATES,
        expect_step: int | None = None,
    ) -> RolloutRecord:
        """Enter step ``step_index`` at ``candidate_share`` if the rollout is still in one of the ``expect``
        states (and at step ``expect_step``, when given: two controllers never take one step twice);
        Conflict otherwise."""
        expected = tuple(expect)

        def work(session: Session) -> RolloutRecord:
            row = _row(session, rollout_id, lock=True)
            if row.state not in expected:
                raise Conflict(
                    f"rollout {row.id} of {row.model}@{row.alias} is {row.state}; it takes no step"
                )
            if expect_step is not None and row.step_index != expect_step:
                raise Conflict(
                    f"rollout {row.id} of {row.model}@{row.alias} is at step {row.step_index + 1} already"
                )
            now = datetime.now(UTC)
            before = {"step_index": row.step_index, "candidate_share": row.candidate_share}
            row.step_index, row.candidate_share, row.updated_at = step_index, candidate_share, now
            session.add(
                RolloutStepRow(
                    rollout_id=row.id,
                    step_index=step_index,
                    candidate_share=candidate_share,
                    at=now,
                    actor=self.actor,
                )
            )
            record_audit(
                session,
                actor=self.actor,
                action="rollout.step",
                model=row.model,
                target=f"{row.model}@{row.alias}",
                before=before,
                after={"rollout": row.id, "step_index": step_index, "candidate_share": candidate_share},
            )
            return _record(row)

        return self.db.write(work)

    def record_analysis(
        self,
        rollout_id: int,
        step_index: int,
        analysis: dict[str, Any],
        *,
        expect_analyses: int | None = None,
    ) -> None:
        """Keep one analysis (``Analysis.to_dict()``, whose ``verdict`` is stored beside it).

        With ``expect_analyses`` (how many analyses of the step the caller saw before its own), the analysis
        is kept only if the rollout is still running at ``step_index`` with that many analyses: two
        controllers judging the same step at once record exactly one analysis, and the other gets a
        Conflict and leaves the rollout to the first. The check runs under the rollout's row lock (``BEGIN
        IMMEDIATE`` on SQLite), so it holds on both databases."""

        def work(session: Session) -> None:
            row = _row(session, rollout_id, lock=expect_analyses is not None)
            if expect_analyses is not None:
                _refuse_a_second_analysis(session, row, step_index, expect_analyses)
            session.add(
                RolloutAnalysisRow(
                    rollout_id=rollout_id,
                    step_index=step_index,
                    verdict=str(analysis.get("verdict", "")),
                    analysis=analysis,
                    at=datetime.now(UTC),
                )
            )

        self.db.write(work)

    def steps(self, rollout_id: int) -> list[RolloutStep]:
        """The steps a rollout entered, oldest first, each with the analyses recorded during it."""
        with self.db.reading() as session:
            _row(session, rollout_id)
            step_rows = session.execute(
                select(RolloutStepRow)
                .where(RolloutStepRow.rollout_id == rollout_id)
                .order_by(RolloutStepRow.id)
            ).scalars()
            analysis_rows = session.execute(
                select(RolloutAnalysisRow)
                .where(RolloutAnalysisRow.rollout_id == rollout_id)
                .order_by(RolloutAnalysisRow.id)
            ).scalars()
            analyses: dict[int, list[dict[str, Any]]] = {}
            for analysis in analysis_rows:
                entry = {**analysis.analysis, "at": analysis.at.isoformat()}
                analyses.setdefault(analysis.step_index, []).append(entry)
            steps = [
                RolloutStep(step.step_index, step.candidate_share, step.at, step.actor) for step in step_rows
            ]
        # A step entered twice (resumed after a pause) keeps its analyses on its latest entry.
        latest = {step.step_index: position for position, step in enumerate(steps)}
        return [
            RolloutStep(
                step.step_index,
                step.candidate_share,
                step.at,
                step.actor,
                tuple(analyses.get(step.step_index, ())) if latest[step.step_index] == position else (),
            )
            for position, step in enumerate(steps)
        ]


def active_conflict(record: RolloutRecord) -> Conflict:
    """The refusal of a second rollout on an alias: it names the first and how to end it."""
    flag = "" if record.alias == "production" else f" --alias {record.alias}"
    return Conflict(
        f"{record.model}@{record.alias} already has rollout {record.id} to v{record.candidate} "
        f"({record.state}); finish it first with 'shipyard rollout promote {record.model}{flag}' or "
        f"'shipyard rollout abort {record.model}{flag}'"
    )


_VERBS = {
    "running": "resume",
    "paused": "pause",
    "promoted": "promote",
    "aborted": "abort",
    "failed": "fail",
    "stopped": "stop",
    "passed": "pass",
}


def _refuse_a_second_analysis(session: Session, row: RolloutRow, step_index: int, expected: int) -> None:
    """Conflict unless ``row`` still runs at ``step_index`` with ``expected`` analyses of that step."""
    where = f"rollout {row.id} of {row.model}@{row.alias}"
    if row.state != "running" or row.step_index != step_index:
        raise Conflict(
            f"{where} is {row.state} at step {row.step_index + 1}, not running at step {step_index + 1}; "
            "another controller moved it on"
        )
    recorded = session.execute(
        select(func.count())
        .select_from(RolloutAnalysisRow)
        .where(RolloutAnalysisRow.rollout_id == row.id, RolloutAnalysisRow.step_index == step_index)
    ).scalar_one()
    if recorded != expected:
        raise Conflict(
            f"{where} has {recorded} analyses of step {step_index + 1}, not {expected}: another controller "
            "analysed the step meanwhile"
        )


def _alias_version(session: Session, model: str, alias: str) -> int | None:
    return session.execute(
        select(AliasRow.version)
        .join(ModelRow, ModelRow.id == AliasRow.model_id)
        .where(ModelRow.name == model, AliasRow.name == alias)
    ).scalar_one_or_none()


def _active_rows(session: Session, model: str, alias: str) -> list[RolloutRow]:
    query = (
        select(RolloutRow)
        .where(RolloutRow.model == model, RolloutRow.alias == alias, RolloutRow.state.in_(ACTIVE_STATES))
        .order_by(RolloutRow.id)
    )
    return list(session.execute(query).scalars())


def _row(session: Session, rollout_id: int, *, lock: bool = False) -> RolloutRow:
    query = select(RolloutRow).where(RolloutRow.id == rollout_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise NotFound(f"rollout {rollout_id} not found; list rollouts with 'shipyard rollout history'")
    return row


def _record(row: RolloutRow) -> RolloutRecord:
    return RolloutRecord(
        id=row.id,
        model=row.model,
        alias=row.alias,
        strategy=row.strategy,
        stable=row.stable,
        candidate=row.candidate,
        state=row.state,
        step_index=row.step_index,
        candidate_share=row.candidate_share,
        plan=row.plan,
        reason=row.reason,
        started_at=row.started_at,
        started_by=row.started_by,
        updated_at=row.updated_at,
        ended_at=row.ended_at,
    )
