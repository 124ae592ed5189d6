"""Writing audit events: every service records its changes through this one function, in the same
transaction as the change itself, so the trail can never disagree with the state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from shipyard.store.schema import AuditRow


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
