"""Retraining runs in the metadata database: one row per trigger, whatever became of it.

The repository enforces the two rules that must hold when triggers race (a schedule, an alert firing every
minute, a person typing ``shipyard retrain run``): at most one running run per model, and no run sooner than
the cooldown after the last one. Both are checked under the model's write lock in the transaction that
records the trigger, on SQLite and PostgreSQL alike, so a trigger storm starts one run and records the rest
as ``coalesced`` (or ``skipped``, in the cooldown). Starts and ends write audit events in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.errors import Conflict, NotFound
from shipyard.store.audit import record_audit
from shipyard.store.database import Database
from shipyard.store.models import lock_model
from shipyard.store.schema import RetrainRunRow

#: running: working through its steps; succeeded, failed: ended; interrupted: its process was killed or
#: lost; skipped: in the cooldown, nothing ran; coalesced: another run of the model was running, so this
#: trigger joined it. Only succeeded and failed runs start a cooldown.
RUN_STATES = ("running", "succeeded", "failed", "interrupted", "skipped", "coalesced")
_VERBS = {"succeeded": "succeed", "failed": "fail", "interrupted": "interrupt"}
TRIGGERS = ("manual", "schedule", "alert", "labels")


@dataclass(frozen=True)
class RetrainRunRecord:
    """One run as stored."""

    id: int
    model: str
    trigger: str
    trigger_detail: dict[str, Any]
    state: str
    step: str
    reason: str
    details: dict[str, Any]
    started_at: datetime
    started_by: str
    updated_at: datetime
    ended_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """The run as JSON-ready values (times as ISO 8601), as the CLI and the management API show it."""
        return {
            "id": self.id,
            "model": self.model,
            "trigger": self.trigger,
            "trigger_detail": self.trigger_detail,
            "state": self.state,
            "step": self.step,
            "reason": self.reason,
            "details": self.details,
            "started_at": self.started_at.isoformat(),
            "started_by": self.started_by,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }


class RetrainRunRepository:
    """The retraining runs of one metadata database; changes are stamped with ``actor``."""

    def __init__(self, db: Database, actor: str) -> None:
        self.db = db
        self.actor = actor

    def begin(
        self,
        model: str,
        trigger: str,
        *,
        detail: dict[str, Any] | None = None,
        cooldown: timedelta = timedelta(0),
        now: datetime | None = None,
        owner: dict[str, Any] | None = None,
        gone: Callable[[RetrainRunRecord], str | None] | None = None,
    ) -> RetrainRunRecord:
        """Record a trigger of ``model``'s retraining: a ``running`` run, or ``coalesced`` into the run
        already running, or ``skipped`` within ``cooldown`` of the last run's start. NotFound for a model
        the registry does not hold.

        ``owner`` (the process doing the run) is kept in the run's details. ``gone(run)`` says why a
        running run's process is gone (killed, its machine lost), or None while it lives: such a run is
        ended as interrupted first, so a killed run never blocks the runs after it."""
        if trigger not in TRIGGERS:
            raise ValueError(f"unknown trigger {trigger!r}; one of {', '.join(TRIGGERS)}")
        at = now or datetime.now(UTC)

        def work(session: Session) -> RetrainRunRecord:
            lock_model(session, model)
            if gone is not None:
                self._end_abandoned(session, model, gone)
            state, reason = _admission(session, model, cooldown, at)
            row = RetrainRunRow(
                model=model,
                trigger=trigger,
                trigger_detail=detail or {},
                state=state,
                step="start",
                reason=reason,
                details={"owner": owner} if owner and state == "running" else {},
                started_at=at,
                started_by=self.actor,
                updated_at=at,
                ended_at=None if state == "running" else at,
            )
            session.add(row)
            session.flush()
            record_audit(
                session,
                actor=self.actor,
                action=f"retrain.{'start' if state == 'running' else state}",
                model=model,
                target=model,
                before={},
                after={"run": row.id, "trigger": trigger, **(detail or {})},
                reason=reason,
            )
            return _record(row)

        return self.db.write(work)

    def _end_abandoned(
        self, session: Session, model: str, gone: Callable[[RetrainRunRecord], str | None]
    ) -> None:
        """End the model's running run as interrupted when ``gone`` says its process is gone."""
        for row in session.execute(
            select(RetrainRunRow).where(RetrainRunRow.model == model, RetrainRunRow.state == "running")
        ).scalars():
            why = gone(_record(row))
            if why is not None:
                _end(session, row, "interrupted", f"interrupted at step {row.step}: {why}", self.actor)

    def step(self, run_id: int, step: str, details: dict[str, Any] | None = None) -> RetrainRunRecord:
        """Mark a running run as having reached ``step``, adding ``details`` to what it recorded."""

        def work(session: Session) -> RetrainRunRecord:
            row = _running(session, run_id)
            row.step = step
            row.details = {**row.details, **(details or {})}
            row.updated_at = datetime.now(UTC)
            return _record(row)

        return self.db.write(work)

    def finish(
        self, run_id: int, state: str, reason: str, details: dict[str, Any] | None = None
    ) -> RetrainRunRecord:
        """End a running run as ``succeeded`` or ``failed`` (at the step it reached), saying why."""
        if state not in ("succeeded", "failed"):
            raise ValueError(f"a run ends succeeded or failed, not {state!r}")

        def work(session: Session) -> RetrainRunRecord:
            row = _running(session, run_id)
            row.details = {**row.details, **(details or {})}
            _end(session, row, state, reason, self.actor)
            return _record(row)

        return self.db.write(work)

    def get(self, run_id: int) -> RetrainRunRecord:
        with self.db.reading() as session:
            return _record(_row(session, run_id))

    def history(self, model: str | None = None, *, limit: int = 20) -> list[RetrainRunRecord]:
        """Runs newest first, of one model or all."""
        with self.db.reading() as session:
            query = select(RetrainRunRow)
            if model is not None:
                query = query.where(RetrainRunRow.model == model)
            rows = session.execute(query.order_by(RetrainRunRow.id.desc()).limit(limit)).scalars()
            return [_record(row) for row in rows]


def _end(session: Session, row: RetrainRunRow, state: str, reason: str, actor: str) -> None:
    now = datetime.now(UTC)
    row.state, row.reason, row.updated_at, row.ended_at = state, reason, now, now
    record_audit(
        session,
        actor=actor,
        action=f"retrain.{_VERBS[state]}",
        model=row.model,
        target=row.model,
        before={"run": row.id, "step": row.step},
        after={"state": state, **row.details},
        reason=reason,
    )


def _admission(session: Session, model: str, cooldown: timedelta, at: datetime) -> tuple[str, str]:
    """Whether a trigger at ``at`` may start a run: ``("running", "")``, or why not."""
    running = session.execute(
        select(RetrainRunRow).where(RetrainRunRow.model == model, RetrainRunRow.state == "running")
    ).scalar_one_or_none()
    if running is not None:
        return "coalesced", f"run {running.id} of {model} is running (at step {running.step}); this joins it"
    last = session.execute(
        select(RetrainRunRow)
        .where(RetrainRunRow.model == model, RetrainRunRow.state.in_(("succeeded", "failed")))
        .order_by(RetrainRunRow.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if last is not None and at - last.started_at < cooldown:
        ready = last.started_at + cooldown
        return "skipped", (
            f"run {last.id} started at {last.started_at:%Y-%m-%d %H:%M:%S} UTC; "
            f"the cooldown lets the next one start at {ready:%Y-%m-%d %H:%M:%S} UTC"
        )
    return "running", ""


def _running(session: Session, run_id: int) -> RetrainRunRow:
    row = _row(session, run_id, lock=True)
    if row.state != "running":
        raise Conflict(f"retraining run {run_id} of {row.model} is {row.state}, not running")
    return row


def _row(session: Session, run_id: int, *, lock: bool = False) -> RetrainRunRow:
    query = select(RetrainRunRow).where(RetrainRunRow.id == run_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise NotFound(f"retraining run {run_id} not found; list runs with 'shipyard retrain history'")
    return row


def _record(row: RetrainRunRow) -> RetrainRunRecord:
    return RetrainRunRecord(
        id=row.id,
        model=row.model,
        trigger=row.trigger,
        trigger_detail=dict(row.trigger_detail),
        state=row.state,
        step=row.step,
        reason=row.reason,
        details=dict(row.details),
        started_at=row.started_at,
        started_by=row.started_by,
        updated_at=row.updated_at,
        ended_at=row.ended_at,
    )
