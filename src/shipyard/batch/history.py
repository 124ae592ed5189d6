"""Every batch run in the metadata database: which version scored which inputs, with what outcome.

The rows themselves are read and written by the store's ``BatchRunRepository``; this module says what a run's
row holds when it starts and ends, and how a missing run is reported.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shipyard.batch.manifest import Manifest
from shipyard.batch.result import BatchResult
from shipyard.errors import NotFound
from shipyard.registry import Registry
from shipyard.store.batch_runs import BatchRunRepository


def start_run(registry: Registry, manifest: Manifest, output: str) -> None:
    """Record a run as running (a resumed run keeps its first start time)."""
    _repository(registry).start(
        run_id=manifest.run_id,
        model=manifest.model,
        version=manifest.version,
        output=output,
        inputs={"files": manifest.inputs, "reference": manifest.reference},
        started_at=datetime.fromisoformat(manifest.created_at),
    )


def finish_run(registry: Registry, result: BatchResult, *, error: str = "") -> None:
    """Record how a run ended: its status, its counts and why it did not succeed (``error``)."""
    _repository(registry).finish(
        result.run_id,
        status=result.status,
        rows=result.rows,
        scored=result.scored,
        rejected=result.rejected,
        error=error,
    )


def batch_runs(registry: Registry, *, model: str | None = None, last: int = 20) -> list[dict[str, Any]]:
    """The newest runs, newest first."""
    return _repository(registry).newest(model=model, last=last)


def batch_run(registry: Registry, run_id: str) -> dict[str, Any]:
    run = _repository(registry).get(run_id)
    if run is None:
        raise NotFound(f"there is no batch run {run_id!r}; 'shipyard runs' lists them")
    return run


def _repository(registry: Registry) -> BatchRunRepository:
    return BatchRunRepository(registry.db, registry.actor)
