"""Users, API tokens and dashboard sessions in the metadata database: the access service's repositories.

Only hashes of secrets reach these tables: a password's scrypt hash, the SHA-256 of a token's or a
session's secret. The repositories never see a secret and never decide who may do what; they store, look
up and record. Every change to a user or a token writes its audit event in the same transaction, stamped
with the actor. Methods take and return the plain records below, never ORM rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError as DatabaseIntegrityError
from sqlalchemy.orm import Session

from shipyard.errors import Conflict, not_found
from shipyard.store.audit import record_audit
from shipyard.store.database import Database
from shipyard.store.schema import ApiTokenRow, SessionRow, UserRow

#: The role that must keep at least one enabled user: without one, nobody could manage the others.
KEEPER_ROLE = "admin"


@dataclass(frozen=True)
class UserRecord:
    """One user as stored; ``password_hash`` is None for a user who only uses API tokens."""

    name: str
    role: str
    password_hash: str | None
    disabled: bool
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class TokenRecord:
    """One API token as stored: its public id and the SHA-256 of its secret."""

    id: str
    user: str
    name: str
    secret_sha256: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class SessionRecord:
    """One dashboard session as stored, with its user."""

    user: UserRecord
    created_at: datetime
    expires_at: datetime


class UserRepository:
    """The users of one metadata database; changes are stamped with ``actor``."""

    def __init__(self, db: Database, actor: str) -> None:
        self.db = db
        self.actor = actor

    def add(self, name: str, role: str, password_hash: str | None, at: datetime) -> UserRecord:
        """Store a new user; Conflict when the name is taken."""

        def work(session: Session) -> UserRecord:
            if _find_user(session, name) is not None:
                raise _user_exists(name)
            row = UserRow(
                name=name,
                role=role,
                password_hash=password_hash,
                disabled=False,
                created_at=at,
                created_by=self.actor,
            )
            session.add(row)
            session.flush()
            record_audit(
                session,
                actor=self.actor,
                action="user.create",
                target=name,
                before={},
                after={"role": role, "password": password_hash is not None},
            )
            return _user(row)

        try:
            return self.db.write(work)
        except DatabaseIntegrityError:  # another writer took the name between our look and our insert
            raise _user_exists(name) from None

    def change(
        self, name: str, action: str, *, role: str | None = None, disabled: bool | None = None
    ) -> UserRecord:
        """Give a user a new role or enable/disable it, audited as ``action``. Conflict when the change
        would leave no enabled admin."""

        def work(session: Session) -> UserRecord:
            row = _user_row(session, name, lock=True)
            before = {"role": row.role, "disabled": row.disabled}
            new_role = row.role if role is None else role
            new_disabled = row.disabled if disabled is None else disabled
            if _keeper(row.role, row.disabled) and not _keeper(new_role, new_disabled):
                _check_another_keeper(session, row)
            row.role, row.disabled = new_role, new_disabled
            after = {"role": row.role, "disabled": row.disabled}
            record_audit(session, actor=self.actor, action=action, target=name, before=before, after=after)
            return _user(row)

        return self.db.write(work)

    def set_password_hash(self, name: str, password_hash: str | None) -> UserRecord:
        """Replace (or, with None, remove) a user's password hash; the audit says which, never the hash."""

        def work(session: Session) -> UserRecord:
            row = _user_row(session, name, lock=True)
            before = {"password": row.password_hash is not None}
            row.password_hash = password_hash
            record_audit(
                session,
                actor=self.actor,
                action="user.password",
                target=name,
                before=before,
                after={"password": password_hash is not None},
            )
            return _user(row)

        return self.db.write(work)

    def get(self, name: str) -> UserRecord:
        """The user called ``name``; NotFound naming the closest names."""
        with self.db.reading() as session:
            return _user(_user_row(session, name))

    def find(self, name: str) -> UserRecord | None:
        with self.db.reading() as session:
            row = _find_user(session, name)
            return None if row is None else _user(row)

    def all(self) -> list[UserRecord]:
        """Every user, by name."""
        with self.db.reading() as session:
            return [_user(row) for row in session.execute(select(UserRow).order_by(UserRow.name)).scalars()]


class TokenRepository:
    """The API tokens of one metadata database; issuing and revoking are stamped with ``actor``."""

    def __init__(self, db: Database, actor: str) -> None:
        self.db = db
        self.actor = actor

    def add(
        self,
        token_id: str,
        user: str,
        name: str,
        secret_sha256: str,
        at: datetime,
        expires_at: datetime | None,
    ) -> TokenRecord:
        """Store a new token of ``user`` (NotFound for an unknown user)."""

        def work(session: Session) -> TokenRecord:
            owner = _user_row(session, user)
            row = ApiTokenRow(
                id=token_id,
                user_id=owner.id,
                name=name,
                secret_sha256=secret_sha256,
                created_at=at,
                created_by=self.actor,
                expires_at=expires_at,
            )
            session.add(row)
            session.flush()
            after: dict[str, Any] = {"user": user, "name": name, "expires_at": _iso(expires_at)}
            record_audit(
                session, actor=self.actor, action="token.issue", target=token_id, before={}, after=after
            )
            return _token(row, user)

        return self.db.write(work)

    def get(self, token_id: str) -> tuple[TokenRecord, UserRecord] | None:
        """The token with this public id and its user, or None."""
        # Every API call asks this: plain columns in one joined read, no ORM objects to build.
        token, owner = ApiTokenRow.__table__, UserRow.__table__
        with self.db.reading() as session:
            found = session.execute(
                select(*token.columns, *(column.label(f"owner_{column.name}") for column in owner.columns))
                .select_from(token.join(owner, owner.c.id == token.c.user_id))
                .where(token.c.id == token_id)
            ).one_or_none()
        if found is None:
            return None
        values = found._mapping
        user = {column.name: values[f"owner_{column.name}"] for column in owner.columns}
        return _token(SimpleNamespace(**values), user["name"]), _user(SimpleNamespace(**user))

    def all(self, user: str | None = None) -> list[TokenRecord]:
        """Every token (of one user), oldest first; NotFound for an unknown user."""
        with self.db.reading() as session:
            query = select(ApiTokenRow, UserRow.name).join(UserRow, UserRow.id == ApiTokenRow.user_id)
            if user is not None:
                query = query.where(ApiTokenRow.user_id == _user_row(session, user).id)
            rows = session.execute(query.order_by(ApiTokenRow.created_at, ApiTokenRow.id)).all()
            return [_token(token, owner) for token, owner in rows]

    def revoke(self, token_id: str, at: datetime) -> TokenRecord:
        """Mark a token revoked from ``at`` on; Conflict when it was revoked already."""

        def work(session: Session) -> TokenRecord:
            found = session.execute(
                select(ApiTokenRow, UserRow.name)
                .join(UserRow, UserRow.id == ApiTokenRow.user_id)
                .where(ApiTokenRow.id == token_id)
                .with_for_update()
            ).one_or_none()
            if found is None:
                known = session.execute(select(ApiTokenRow.id)).scalars()
                raise not_found("API token", token_id, candidates=known, list_command="shipyard tokens list")
            row, owner = found
            if row.revoked_at is not None:
                raise Conflict(
                    f"API token {token_id} of {owner} was revoked already, on {row.revoked_at:%Y-%m-%d}"
                )
            row.revoked_at = at
            record_audit(
                session,
                actor=self.actor,
                action="token.revoke",
                target=token_id,
                before={"user": owner, "name": row.name},
                after={"revoked_at": at.isoformat()},
            )
            return _token(row, owner)

        return self.db.write(work)

    def touch(self, token_id: str, at: datetime, every: timedelta) -> None:
        """Record that the token was used at ``at``, unless that was recorded less than ``every`` ago: a
        busy client costs one write a minute, not one a request."""

        def work(session: Session) -> None:
            session.execute(
                update(ApiTokenRow)
                .where(
                    ApiTokenRow.id == token_id,
                    or_(ApiTokenRow.last_used_at.is_(None), ApiTokenRow.last_used_at <= at - every),
                )
                .values(last_used_at=at)
            )

        self.db.write(work)


class SessionRepository:
    """The dashboard sessions of one metadata database, keyed by the SHA-256 of their secret."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, secret_sha256: str, user: str, at: datetime, expires_at: datetime, *, via: str) -> None:
        """Store a session of ``user`` (audited as ``session.open`` by that user, signed in ``via``),
        dropping every expired session on the way: they are never read again."""

        def work(session: Session) -> None:
            owner = _user_row(session, user)
            session.execute(delete(SessionRow).where(SessionRow.expires_at <= at))
            session.add(
                SessionRow(
                    secret_sha256=secret_sha256, user_id=owner.id, created_at=at, expires_at=expires_at
                )
            )
            after = {"via": via, "expires_at": expires_at.isoformat()}
            record_audit(session, actor=user, action="session.open", target=user, before={}, after=after)

        self.db.write(work)

    def get(self, secret_sha256: str) -> SessionRecord | None:
        with self.db.reading() as session:
            found = session.execute(
                select(SessionRow, UserRow)
                .join(UserRow, UserRow.id == SessionRow.user_id)
                .where(SessionRow.secret_sha256 == secret_sha256)
            ).one_or_none()
            if found is None:
                return None
            row, owner = found
            return SessionRecord(user=_user(owner), created_at=row.created_at, expires_at=row.expires_at)

    def remove(self, secret_sha256: str) -> bool:
        """Forget a session; whether there was one."""

        def work(session: Session) -> bool:
            gone = session.execute(delete(SessionRow).where(SessionRow.secret_sha256 == secret_sha256))
            return bool(getattr(gone, "rowcount", 0))

        return self.db.write(work)

    def remove_all_of(self, user: str) -> int:
        """Forget every session of ``user`` (a disabled user, a new password); how many there were."""

        def work(session: Session) -> int:
            owner = _user_row(session, user)
            gone = session.execute(delete(SessionRow).where(SessionRow.user_id == owner.id))
            return int(getattr(gone, "rowcount", 0))

        return self.db.write(work)


def _keeper(role: str, disabled: bool) -> bool:
    return role == KEEPER_ROLE and not disabled


def _check_another_keeper(session: Session, row: UserRow) -> None:
    """Refuse to demote or disable the last enabled admin (locking the admins, so two admins demoting
    each other at once cannot both succeed)."""
    others = session.execute(
        select(UserRow.name)
        .where(UserRow.role == KEEPER_ROLE, UserRow.disabled.is_(False), UserRow.id != row.id)
        .with_for_update()
    ).scalars()
    if not list(others):
        raise Conflict(
            f"{row.name} is the only enabled {KEEPER_ROLE}; give another user the {KEEPER_ROLE} role first "
            f"(shipyard users role NAME {KEEPER_ROLE})"
        )


def _find_user(session: Session, name: str) -> UserRow | None:
    return session.execute(select(UserRow).where(UserRow.name == name)).scalar_one_or_none()


def _user_row(session: Session, name: str, *, lock: bool = False) -> UserRow:
    query = select(UserRow).where(UserRow.name == name)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        known = session.execute(select(UserRow.name)).scalars()
        raise not_found("user", name, candidates=known, list_command="shipyard users list")
    return row


def _user_exists(name: str) -> Conflict:
    return Conflict(f"user {name!r} exists already; change its role with 'shipyard users role {name} ROLE'")


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _user(row: UserRow | SimpleNamespace) -> UserRecord:
    return UserRecord(
        name=row.name,
        role=row.role,
        password_hash=row.password_hash,
        disabled=row.disabled,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _token(row: ApiTokenRow | SimpleNamespace, user: str) -> TokenRecord:
    return TokenRecord(
        id=row.id,
        user=user,
        name=row.name,
        secret_sha256=row.secret_sha256,
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )
