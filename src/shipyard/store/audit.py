"""The audit trail: every service records its changes through ``record_audit``, in the same transaction as
the change itself, so the trail can never disagree with the state; ``AuditLog`` reads it back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.store.database import Database
from shipyard.store.schema import AuditRow


@dataclass(frozen=True)
class AuditEvent:
    """One change to the registry: who did what to which target, from what to what, and why."""

    id: int
    at: datetime
    actor: str
    action: str
    model: str | None
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "model": self.model,
            "target": self.target,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditEvent:
        """The record ``to_dict`` wrote (what the management API answers)."""
        fields = {key: data[key] for key in ("id", "actor", "action", "model", "target", "before", "after")}
        return cls(**fields, at=datetime.fromisoformat(data["at"]), reason=data["reason"])


def record_audit(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str,
    model: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> None:
    """Add one audit event to the session's transaction."""
    session.add(
        AuditRow(
            at=datetime.now(UTC),
            actor=actor,
            action=action,
            model=model,
            target=target,
            before=before,
            after=after,
            reason=reason,
        )
    )


class AuditLog:
    """Reads the audit trail of one metadata database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def newest(
        self, *, model: str | None, action: str | None, since: datetime | None, limit: int
    ) -> list[AuditEvent]:
        """The newest ``limit`` events (returned oldest first), optionally for one model, an action
        prefix, or from a moment on."""
        query = select(AuditRow)
        if model is not None:
            query = query.where(AuditRow.model == model)
        if action is not None:
            query = query.where(AuditRow.action.startswith(action, autoescape=True))
        if since is not None:
            query = query.where(AuditRow.at >= since)
        with self.db.reading() as session:
            rows = session.execute(query.order_by(AuditRow.id.desc()).limit(limit)).scalars().all()
            return [_audit_entity(row) for row in reversed(rows)]


def _audit_entity(row: AuditRow) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        model=row.model,
        target=row.target,
        before=row.before,
        after=row.after,
        reason=row.reason,
    )
