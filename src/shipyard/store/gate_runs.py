"""Promotion gate runs in the metadata database: one row per run, with its full report.

The gate service decides what a run found; this repository only writes its row and reads a version's runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.store.database import Database
from shipyard.store.schema import GateRunRow, ModelRow
from shipyard.store.sequences import select_named


@dataclass(frozen=True)
class GateRun:
    """One run of a gate for ``model``/``version`` towards ``alias``; ``report`` is the GateReport dict."""

    model: str
    version: int
    alias: str
    champion: int | None
    passed: bool
    promoted: bool
    forced: bool
    report: dict[str, Any]
    at: datetime
    actor: str

    def to_dict(self) -> dict[str, Any]:
        """As ``shipyard models show`` and the API list it (without the model and version it is of)."""
        return {
            "alias": self.alias,
            "champion": self.champion,
            "passed": self.passed,
            "promoted": self.promoted,
            "forced": self.forced,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "report": self.report,
        }


class GateRunRepository:
    """The ``gate_runs`` rows of one metadata database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, run: GateRun) -> None:
        """Record a run (its model must be registered)."""

        def work(session: Session) -> None:
            model = select_named(session, ModelRow, run.model)
            assert model is not None, "a gate runs only on a registered version"
            session.add(
                GateRunRow(
                    model_id=model.id,
                    version=run.version,
                    alias=run.alias,
                    champion=run.champion,
                    passed=run.passed,
                    promoted=run.promoted,
                    forced=run.forced,
                    report=run.report,
                    at=run.at,
                    actor=run.actor,
                )
            )

        self.db.write(work)

    def of_version(self, model: str, version: int) -> list[GateRun]:
        """Every run of a version, oldest first."""
        with self.db.reading() as session:
            row = select_named(session, ModelRow, model)
            if row is None:
                return []
            runs = session.execute(
                select(GateRunRow)
                .where(GateRunRow.model_id == row.id, GateRunRow.version == version)
                .order_by(GateRunRow.id)
            ).scalars()
            return [
                GateRun(
                    model=model,
                    version=stored.version,
                    alias=stored.alias,
                    champion=stored.champion,
                    passed=stored.passed,
                    promoted=stored.promoted,
                    forced=stored.forced,
                    report=stored.report,
                    at=stored.at,
                    actor=stored.actor,
                )
                for stored in runs
            ]
