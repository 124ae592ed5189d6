"""Schedules and their occurrences in the metadata database: the scheduler's persistent job store.

An occurrence is claimed by inserting its ``schedule_runs`` row — unique per schedule and time — in the
same transaction that moves the schedule's ``handled_until`` on, so two schedulers never run one occurrence
twice. The scheduling service decides what is due and what to run; this repository keeps the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shipyard.store.database import Database
from shipyard.store.schema import BatchRunRow, ScheduleRow, ScheduleRunRow


@dataclass(frozen=True)
class ScheduleRecord:
    """A stored schedule: a shipyard command (``args``), a cron expression, a time zone, a missed-run
    policy, and the newest scheduled time already handled."""

    name: str
    cron: str
    timezone: str
    args: list[str]
    missed: str
    enabled: bool
    created_by: str
    created_at: datetime
    handled_until: datetime


@dataclass(frozen=True)
class ScheduleRun:
    """One occurrence of a schedule and its outcome."""

    schedule: str
    scheduled_for: datetime
    status: str  # running, succeeded, failed, missed, interrupted, resumed
    started_at: datetime | None
    seconds: float | None
    exit_code: int | None
    batch_run: str | None
    rows: int | None
    rejected: int | None
    log_path: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "schedule": self.schedule,
            "scheduled_for": self.scheduled_for.isoformat(),
            "status": self.status,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "seconds": self.seconds,
            "exit_code": self.exit_code,
            "batch_run": self.batch_run,
            "rows": self.rows,
            "rejected": self.rejected,
            "log": self.log_path,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class RunningOccurrence:
    """An occurrence recorded as running; ``args`` is its schedule's command (None if it was removed)."""

    run_id: int
    schedule: str
    scheduled_for: datetime
    pid: int | None
    args: list[str] | None


#: What to do with a running occurrence: None leaves it be, else its new ``(status, detail)``.
Settle = Callable[[RunningOccurrence], tuple[str, str] | None]


class ScheduleRepository:
    """The ``schedules`` and ``schedule_runs`` rows of one metadata database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- schedules -----------------------------------------------------------------------------------------
    def add(self, schedule: ScheduleRecord) -> bool:
        """Store a new schedule; False when one of that name exists."""

        def work(session: Session) -> None:
            session.add(
                ScheduleRow(
                    name=schedule.name,
                    cron=schedule.cron,
                    timezone=schedule.timezone,
                    command={"args": list(schedule.args)},
                    missed=schedule.missed,
                    enabled=schedule.enabled,
                    created_by=schedule.created_by,
                    created_at=schedule.created_at,
                    handled_until=schedule.handled_until,
                )
            )
            session.flush()

        try:
            self.db.write(work)
        except IntegrityError:
            return False
        return True

    def get(self, name: str) -> ScheduleRecord | None:
        with self.db.reading() as session:
            row = session.get(ScheduleRow, name)
            return _record(row) if row is not None else None

    def all(self) -> list[ScheduleRecord]:
        """Every schedule, by name."""
        with self.db.reading() as session:
            rows = session.execute(select(ScheduleRow).order_by(ScheduleRow.name)).scalars()
            return [_record(row) for row in rows]

    def remove(self, name: str) -> bool:
        """Delete a schedule; False when there is none of that name."""

        def work(session: Session) -> bool:
            row = session.get(ScheduleRow, name)
            if row is None:
                return False
            session.delete(row)
            return True

        return self.db.write(work)

    def set_enabled(self, name: str, enabled: bool, now: datetime) -> bool:
        """Pause or resume; a resumed schedule counts as handled until ``now``. False when there is none."""

        def work(session: Session) -> bool:
            row = session.get(ScheduleRow, name)
            if row is None:
                return False
            if enabled and not row.enabled:
                row.handled_until = now
            row.enabled = enabled
            return True

        return self.db.write(work)

    # -- occurrences ---------------------------------------------------------------------------------------
    def claim_occurrences(
        self, name: str, due: Sequence[datetime], run: Sequence[datetime], *, host: str, missed_detail: str
    ) -> dict[datetime, int]:
        """Claim the ``due`` occurrences (oldest first) of a schedule at once: those in ``run`` as running
        on ``host``, the others as missed. Returns the run id of each claimed ``run`` moment — nothing when
        the schedule is gone or another scheduler claimed them first."""
        chosen = set(run)

        def work(session: Session) -> dict[datetime, int]:
            row = session.get(ScheduleRow, name)
            if row is None or row.handled_until >= due[-1]:
                return {}  # removed, or another scheduler got here first
            row.handled_until = due[-1]
            claimed = {}
            for moment in due:
                occurrence = ScheduleRunRow(
                    schedule=name,
                    scheduled_for=moment,
                    status="running" if moment in chosen else "missed",
                    host=host,
                    detail="" if moment in chosen else missed_detail,
                )
                session.add(occurrence)
                session.flush()
                if moment in chosen:
                    claimed[moment] = occurrence.id
            return claimed

        try:
            return self.db.write(work)
        except IntegrityError:  # another scheduler claimed the same occurrence in the same instant
            return {}

    def settle_running(self, host: str, settle: Settle) -> list[tuple[RunningOccurrence, str]]:
        """Give each occurrence recorded as running on ``host`` the status ``settle`` decides, in one
        transaction (so two schedulers starting on one host settle each once); returns those changed."""

        def work(session: Session) -> list[tuple[RunningOccurrence, str]]:
            rows = session.execute(
                select(ScheduleRunRow).where(ScheduleRunRow.status == "running", ScheduleRunRow.host == host)
            ).scalars()
            settled = []
            for row in rows:
                schedule = session.get(ScheduleRow, row.schedule)
                args = list(schedule.command["args"]) if schedule is not None else None
                occurrence = RunningOccurrence(row.id, row.schedule, row.scheduled_for, row.pid, args)
                decision = settle(occurrence)
                if decision is not None:
                    row.status, row.detail = decision
                    settled.append((occurrence, decision[0]))
            return settled

        return self.db.write(work)

    def mark_started(
        self, run_id: int, *, at: datetime, pid: int, log_path: str, batch_run: str | None
    ) -> None:
        """The occurrence's process started: its pid, its output file and its batch run id."""

        def work(session: Session) -> None:
            row = session.get(ScheduleRunRow, run_id)
            if row is not None:
                row.status, row.started_at, row.pid, row.log_path = "running", at, pid, log_path
                row.batch_run = batch_run

        self.db.write(work)

    def finish(
        self,
        run_id: int,
        *,
        status: str,
        exit_code: int | None,
        batch_run: str | None,
        detail: str,
        at: datetime,
    ) -> None:
        """The occurrence ended: its status and duration, and the row counts of its batch run, if any."""

        def work(session: Session) -> None:
            row = session.get(ScheduleRunRow, run_id)
            if row is None:
                return
            row.status, row.exit_code, row.finished_at, row.detail = status, exit_code, at, detail
            if row.started_at is not None:
                row.seconds = (at - row.started_at).total_seconds()
            if batch_run is not None:
                batch = session.get(BatchRunRow, batch_run)
                if batch is not None:
                    row.rows, row.rejected = batch.rows, batch.rejected

        self.db.write(work)

    def history(self, name: str | None = None, last: int = 20) -> list[ScheduleRun]:
        """Occurrences (of one schedule, or all), newest first."""
        query = select(ScheduleRunRow).order_by(ScheduleRunRow.scheduled_for.desc(), ScheduleRunRow.id.desc())
        if name is not None:
            query = query.where(ScheduleRunRow.schedule == name)
        with self.db.reading() as session:
            return [
                ScheduleRun(
                    schedule=row.schedule,
                    scheduled_for=row.scheduled_for,
                    status=row.status,
                    started_at=row.started_at,
                    seconds=row.seconds,
                    exit_code=row.exit_code,
                    batch_run=row.batch_run,
                    rows=row.rows,
                    rejected=row.rejected,
                    log_path=row.log_path,
                    detail=row.detail,
                )
                for row in session.execute(query.limit(last)).scalars()
            ]


def _record(row: ScheduleRow) -> ScheduleRecord:
    return ScheduleRecord(
        name=row.name,
        cron=row.cron,
        timezone=row.timezone,
        args=list(row.command["args"]),
        missed=row.missed,
        enabled=row.enabled,
        created_by=row.created_by,
        created_at=row.created_at,
        handled_until=row.handled_until,
    )
