"""The batch run history table: one row per batch scoring run, written as it starts and as it ends.

The batch service decides what a run is and when it starts or ends; this repository only reads and writes
its row, so the SQL stays here and the service's rules are testable without a database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.store.database import Database
from shipyard.store.schema import BatchRunRow


class BatchRunRepository:
    """The ``batch_runs`` rows of one metadata database; runs started here are stamped with ``actor``."""

    def __init__(self, db: Database, actor: str) -> None:
        self.db = db
        self.actor = actor

    def start(
        self,
        *,
        run_id: str,
        model: str,
        version: int,
        output: str,
        inputs: dict[str, Any],
        started_at: datetime,
    ) -> None:
        """Record a run as running; a run seen before (a resume) keeps its first start time."""

        def work(session: Session) -> None:
            row = session.get(BatchRunRow, run_id)
            if row is None:
                session.add(
                    BatchRunRow(
                        run_id=run_id,
                        model=model,
                        version=version,
                        status="running",
                        output=output,
                        inputs=inputs,
                        rows=0,
                        scored=0,
                        rejected=0,
                        started_at=started_at,
                        actor=self.actor,
                        error="",
                    )
                )
            else:
                row.status, row.error, row.finished_at = "running", "", None

        self.db.write(work)

    def finish(self, run_id: str, *, status: str, rows: int, scored: int, rejected: int, error: str) -> None:
        """Record how a run ended and its duration since its first start (nothing, if it never started)."""

        def work(session: Session) -> None:
            row = session.get(BatchRunRow, run_id)
            if row is None:
                return
            now = datetime.now(UTC)
            row.status, row.error = status, error
            row.rows, row.scored, row.rejected = rows, scored, rejected
            row.finished_at = now
            row.seconds = (now - row.started_at).total_seconds()

        self.db.write(work)

    def newest(self, *, model: str | None = None, last: int = 20) -> list[dict[str, Any]]:
        """The ``last`` newest runs (of ``model``, when given), newest first."""
        query = select(BatchRunRow).order_by(BatchRunRow.started_at.desc()).limit(last)
        if model is not None:
            query = query.where(BatchRunRow.model == model)
        with self.db.reading() as session:
            return [_as_dict(row) for row in session.execute(query).scalars()]

    def get(self, run_id: str) -> dict[str, Any] | None:
        """One run, or None when there is no run with that id."""
        with self.db.reading() as session:
            row = session.get(BatchRunRow, run_id)
            return None if row is None else _as_dict(row)


def _as_dict(row: BatchRunRow) -> dict[str, Any]:
    return {
        "run_id": row.run_id,
        "model": row.model,
        "version": row.version,
        "status": row.status,
        "output": row.output,
        "inputs": row.inputs,
        "rows": row.rows,
        "scored": row.scored,
        "rejected": row.rejected,
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
        "seconds": row.seconds,
        "actor": row.actor,
        "error": row.error,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
