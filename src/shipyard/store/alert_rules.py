"""Alert rules added through the CLI or the API, kept in the metadata database as their TOML document.

Rules declared in TOML live in their file; these are the others, which every server's monitoring runner
reads again at each run. The alerts service checks a rule before it is kept here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.store.database import Database
from shipyard.store.schema import AlertRuleRow


class AlertRuleRepository:
    """The ``alert_rules`` rows of one metadata database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def documents(self) -> dict[str, dict[str, Any]]:
        """Every added rule's document by name, oldest first."""
        with self.db.reading() as session:
            rows = session.execute(select(AlertRuleRow).order_by(AlertRuleRow.created_at)).scalars()
            return {row.name: dict(row.document) for row in rows}

    def save(self, name: str, document: dict[str, Any], *, actor: str, at: datetime, replace: bool) -> bool:
        """Keep a rule; one of that name is replaced only with ``replace`` (False: it exists, unchanged)."""

        def work(session: Session) -> bool:
            row = session.get(AlertRuleRow, name)
            if row is None:
                session.add(AlertRuleRow(name=name, document=document, created_by=actor, created_at=at))
                return True
            if not replace:
                return False
            row.document, row.created_by, row.created_at = document, actor, at
            return True

        return self.db.write(work)

    def remove(self, name: str) -> bool:
        """Delete an added rule; False when none has that name."""

        def work(session: Session) -> bool:
            row = session.get(AlertRuleRow, name)
            if row is None:
                return False
            session.delete(row)
            return True

        return self.db.write(work)
