"""Every batch run in the metadata database: which version scored which inputs, with what outcome."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.batch.manifest import Manifest
from shipyard.errors import NotFound
from shipyard.registry import Registry
from shipyard.store.schema import BatchRunRow

if TYPE_CHECKING:
    from shipyard.batch.job import BatchResult


def start_run(registry: Registry, manifest: Manifest, output: str) -> None:
    """Record a run as running (a resumed run keeps its first start time)."""

    def work(session: Session) -> None:
        row = session.get(BatchRunRow, manifest.run_id)
        if row is None:
            session.add(
                BatchRunRow(
                    run_id=manifest.run_id,
                    model=manifest.model,
                    version=manifest.version,
                    status="running",
                    output=output,
                    inputs={"files": manifest.inputs, "reference": manifest.reference},
                    rows=0,
                    scored=0,
                    rejected=0,
                    started_at=datetime.fromisoformat(manifest.created_at),
                    actor=registry.actor,
                    error="",
                )
            )
        else:
            row.status, row.error, row.finished_at = "running", "", None

    registry.db.write(work)


def finish_run(registry: Registry, result: BatchResult, *, error: str = "") -> None:
    def work(session: Session) -> None:
        row = session.get(BatchRunRow, result.run_id)
        if row is None:
            return
        now = datetime.now(UTC)
        row.status, row.error = result.status, error
        row.rows, row.scored, row.rejected = result.rows, result.scored, result.rejected
        row.finished_at = now
        row.seconds = (now - row.started_at).total_seconds()

    registry.db.write(work)


def batch_runs(registry: Registry, *, model: str | None = None, last: int = 20) -> list[dict[str, Any]]:
    """The newest runs, newest first."""
    query = select(BatchRunRow).order_by(BatchRunRow.started_at.desc()).limit(last)
    if model is not None:
        query = query.where(BatchRunRow.model == model)
    with registry.db.reading() as session:
        return [_as_dict(row) for row in session.execute(query).scalars()]


def batch_run(registry: Registry, run_id: str) -> dict[str, Any]:
    with registry.db.reading() as session:
        row = session.get(BatchRunRow, run_id)
        if row is None:
            raise NotFound(f"there is no batch run {run_id!r}; 'shipyard runs' lists them")
        return _as_dict(row)


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
