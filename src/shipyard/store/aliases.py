"""Aliases and their history in the metadata database: the only mutable pointers of the registry.

A move writes the alias, one history row and one audit event in a single transaction, under the model's
write lock, so the history is a faithful replay of every move and rollback can be computed from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.errors import Conflict, not_found
from shipyard.refs import ModelRef
from shipyard.store.audit import record_audit
from shipyard.store.database import Database
from shipyard.store.models import alias_names, explain_miss, lock_model, model_row, version_row
from shipyard.store.schema import AliasHistoryRow, AliasRow

#: Placeholder for "do not check the alias's current version".
ANY_VERSION: Final[object] = object()


@dataclass(frozen=True)
class AliasChange:
    """One move of an alias; ``version`` is None when the alias was deleted."""

    model: str
    alias: str
    action: str
    previous_version: int | None
    version: int | None
    at: datetime
    actor: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "alias": self.alias,
            "action": self.action,
            "previous_version": self.previous_version,
            "version": self.version,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AliasChange:
        """The record ``to_dict`` wrote (what the management API answers)."""
        fields = {key: data[key] for key in ("model", "alias", "action", "actor", "reason")}
        return cls(
            **fields,
            previous_version=data["previous_version"],
            version=data["version"],
            at=datetime.fromisoformat(data["at"]),
        )


class AliasRepository:
    """Aliases of the models in one metadata database; moves are stamped with ``actor``."""

    def __init__(self, db: Database, actor: str) -> None:
        self.db = db
        self.actor = actor

    def move(
        self,
        name: str,
        alias: str,
        version: int | None,
        *,
        action: str,
        reason: str,
        expect_current: int | object | None = ANY_VERSION,
    ) -> AliasChange:
        """Point ``name@alias`` at ``version`` (None deletes it), only if it still points at
        ``expect_current`` when that is given."""
        return self.db.write(
            lambda session: self._move(session, name, alias, version, action, reason, expect_current)
        )

    def roll_back(
        self, name: str, alias: str, choose: Callable[[list[AliasChange]], int], *, reason: str
    ) -> AliasChange:
        """Move the alias to the version ``choose`` picks from its history, read under the model's lock
        so no other move can slip in between the decision and the move."""

        def work(session: Session) -> AliasChange:
            model = lock_model(session, name)
            rows = session.execute(
                select(AliasHistoryRow)
                .where(AliasHistoryRow.model_id == model.id, AliasHistoryRow.alias == alias)
                .order_by(AliasHistoryRow.id)
            ).scalars()
            history = [_alias_change(row, name) for row in rows]
            if not history:
                raise explain_miss(session, ModelRef(model=name, alias=alias))
            return self._move(session, name, alias, choose(history), "rollback", reason, ANY_VERSION)

        return self.db.write(work)

    def history(self, name: str, alias: str | None = None) -> list[AliasChange]:
        """Every move of the model's aliases (or of one alias), oldest first."""
        with self.db.reading() as session:
            model = model_row(session, name)
            query = select(AliasHistoryRow).where(AliasHistoryRow.model_id == model.id)
            if alias is not None:
                query = query.where(AliasHistoryRow.alias == alias)
            rows = session.execute(query.order_by(AliasHistoryRow.id)).scalars()
            return [_alias_change(row, name) for row in rows]

    def _move(
        self,
        session: Session,
        name: str,
        alias: str,
        version: int | None,
        action: str,
        reason: str,
        expect_current: int | object | None,
    ) -> AliasChange:
        model = lock_model(session, name)
        if version is not None:
            version_row(session, name, version, model=model)
        current = session.execute(
            select(AliasRow).where(AliasRow.model_id == model.id, AliasRow.name == alias)
        ).scalar_one_or_none()
        previous = current.version if current is not None else None
        if expect_current is not ANY_VERSION and previous != expect_current:
            now_at = f"v{previous}" if previous else "nothing"
            expected = f"v{expect_current}" if expect_current else "unset"
            raise Conflict(
                f"{name}@{alias} moved to {now_at} while this change was being decided "
                f"(expected {expected}); decide again"
            )
        now = datetime.now(UTC)
        if version is None:
            if current is None:
                candidates = alias_names(session, model.id)
                raise not_found("alias", alias, within=f"model {name!r}", candidates=candidates)
            session.delete(current)
        elif previous == version:
            return AliasChange(name, alias, "unchanged", previous, version, now, self.actor, reason)
        elif current is None:
            session.add(
                AliasRow(
                    model_id=model.id, name=alias, version=version, updated_at=now, updated_by=self.actor
                )
            )
        else:
            current.version = version
            current.updated_at = now
            current.updated_by = self.actor
        session.add(
            AliasHistoryRow(
                model_id=model.id,
                alias=alias,
                action=action,
                previous_version=previous,
                version=version,
                at=now,
                actor=self.actor,
                reason=reason,
            )
        )
        record_audit(
            session,
            actor=self.actor,
            action=f"alias.{action}",
            model=name,
            target=f"{name}@{alias}",
            before={"version": previous} if previous is not None else None,
            after={"version": version} if version is not None else None,
            reason=reason,
        )
        return AliasChange(name, alias, action, previous, version, now, self.actor, reason)


def _alias_change(row: AliasHistoryRow, name: str) -> AliasChange:
    return AliasChange(
        name, row.alias, row.action, row.previous_version, row.version, row.at, row.actor, row.reason
    )
