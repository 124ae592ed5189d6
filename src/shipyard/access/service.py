"""The access service: users and their roles, API tokens, dashboard sessions, and proving who is calling.

The management API and the dashboard ask this service one question per request (``authenticate`` for a
token, ``session`` for a cookie) and get a ``Principal`` back, with the role its user holds now: a new role
or a disabled user takes effect on the next request. Secrets are returned once, when made, and only their
hashes are kept (see ``shipyard.access.credentials`` and ``shipyard.access.passwords``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shipyard.access import credentials, passwords
from shipyard.access.roles import Principal, Role
from shipyard.errors import Conflict, Forbidden, InvalidInput, Unauthenticated
from shipyard.refs import validate_name
from shipyard.store.access import (
    SessionRepository,
    TokenRecord,
    TokenRepository,
    UserRecord,
    UserRepository,
)
from shipyard.store.database import Database

#: A token's last use is written at most this often: a busy client costs a write a minute, not a request.
TOUCH_EVERY = timedelta(minutes=1)
SESSION_TTL = timedelta(hours=12)
_WRONG_PASSWORD = (
    "wrong user name or password; check both, or ask an admin to set a new password "
    "(shipyard users password NAME --password-stdin)"
)


@dataclass(frozen=True)
class User:
    """A user as the service shows it: never its password hash, only whether it has a password."""

    name: str
    role: Role
    disabled: bool
    has_password: bool
    created_at: datetime
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role.label,
            "disabled": self.disabled,
            "has_password": self.has_password,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }


@dataclass(frozen=True)
class TokenInfo:
    """What can be known of a token after it was issued: everything but its secret."""

    id: str
    user: str
    name: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def state(self, now: datetime | None = None) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC)):
            return "expired"
        return "active"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user,
            "name": self.name,
            "state": self.state(),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "expires_at": _iso(self.expires_at),
            "revoked_at": _iso(self.revoked_at),
            "last_used_at": _iso(self.last_used_at),
        }


@dataclass(frozen=True)
class IssuedToken:
    """A token just issued: ``secret`` is shown this once and cannot be recovered later."""

    id: str
    user: str
    name: str
    secret: str
    expires_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user,
            "name": self.name,
            "secret": self.secret,
            "expires_at": _iso(self.expires_at),
        }


@dataclass(frozen=True)
class SessionGrant:
    """A dashboard session just opened: ``secret`` goes in the cookie, ``csrf_token`` in the page's forms."""

    secret: str
    csrf_token: str
    expires_at: datetime


class AccessService:
    """Users, tokens and sessions of one metadata database; every change is audited as ``actor``."""

    def __init__(self, db: Database, actor: str) -> None:
        self.db = db
        self.actor = actor
        self._users = UserRepository(db, actor)
        self._tokens = TokenRepository(db, actor)
        self._sessions = SessionRepository(db)

    # -- users ------------------------------------------------------------------------------------------
    def create_user(self, name: str, role: Role | str, password: str | None = None) -> User:
        """Add a user with ``role``; with a password it can sign in to the dashboard, without one it uses
        API tokens only. Conflict when the name is taken."""
        validate_name(name, "user name")
        stored = None
        if password is not None:
            passwords.check_password_strength(password)
            stored = passwords.hash_password(password)
        return _user(self._users.add(name, _role(role).label, stored, datetime.now(UTC)))

    def set_role(self, name: str, role: Role | str) -> User:
        """Give ``name`` a new role, from its next request on; Conflict when it is the last admin."""
        return _user(self._users.change(name, "user.role", role=_role(role).label))

    def disable(self, name: str) -> User:
        """Stop ``name`` from signing in: its tokens fail and its sessions end (``enable`` undoes it)."""
        user = _user(self._users.change(name, "user.disable", disabled=True))
        self._sessions.remove_all_of(name)
        return user

    def enable(self, name: str) -> User:
        """Let a disabled user sign in again; its tokens that have not expired or been revoked work again."""
        return _user(self._users.change(name, "user.enable", disabled=False))

    def set_password(self, name: str, password: str | None) -> User:
        """Replace a user's password (None removes it: tokens only); its open sessions end."""
        if password is not None:
            passwords.check_password_strength(password)
        stored = None if password is None else passwords.hash_password(password)
        user = _user(self._users.set_password_hash(name, stored))
        self._sessions.remove_all_of(name)
        return user

    def get_user(self, name: str) -> User:
        return _user(self._users.get(name))

    def list_users(self) -> list[User]:
        """Every user, by name."""
        return [_user(record) for record in self._users.all()]

    def check_password(self, name: str, password: str) -> Principal:
        """The principal of a user signing in with a password. Unauthenticated with the same message for an
        unknown user, a wrong password and a user without one, after the same scrypt work."""
        if len(password) > passwords.MAX_LENGTH:  # no user has one this long: refuse without the work
            raise Unauthenticated(_WRONG_PASSWORD)
        record = self._users.find(name)
        if not passwords.verify_password(password, record.password_hash if record else None):
            raise Unauthenticated(_WRONG_PASSWORD)
        assert record is not None  # a stored hash matched
        if record.disabled:
            raise _disabled(record.name)
        return Principal(user=record.name, role=Role.parse(record.role), via="session")

    # -- tokens -----------------------------------------------------------------------------------------
    def issue_token(self, user: str, name: str, expires: timedelta | None = None) -> IssuedToken:
        """A new API token for ``user``, valid for ``expires`` (None: until revoked). Its secret is in the
        answer and nowhere else."""
        validate_name(name, "token name")
        if expires is not None and expires <= timedelta(0):
            raise InvalidInput(f"a token expires after a positive duration, not {expires}")
        owner = self._users.get(user)
        if owner.disabled:
            raise Conflict(f"user {user} is disabled; enable it first (shipyard users enable {user})")
        token_id, secret = credentials.new_token_secret()
        now = datetime.now(UTC)
        expires_at = None if expires is None else now + expires
        self._tokens.add(token_id, user, name, credentials.sha256(secret), now, expires_at)
        return IssuedToken(id=token_id, user=user, name=name, secret=secret, expires_at=expires_at)

    def list_tokens(self, user: str | None = None) -> list[TokenInfo]:
        """Every token (of one user), oldest first; never a secret."""
        return [_token_info(record) for record in self._tokens.all(user)]

    def revoke_token(self, token_id: str) -> TokenInfo:
        """Make a token fail from now on; Conflict when it was revoked already."""
        return _token_info(self._tokens.revoke(token_id, datetime.now(UTC)))

    def authenticate(self, secret: str, now: datetime | None = None) -> Principal:
        """The principal an API token's secret stands for; Unauthenticated saying why not (unknown, expired,
        revoked, its user disabled)."""
        at = now or datetime.now(UTC)
        token_id = credentials.token_id_of(secret)
        found = self._tokens.get(token_id)
        if found is None or not credentials.same_hash(secret, found[0].secret_sha256):
            raise Unauthenticated(
                f"API token {token_id} is unknown; create one with 'shipyard tokens create --user NAME'"
            )
        token, owner = found
        _check_usable(token, owner, at)
        if token.last_used_at is None or at - token.last_used_at >= TOUCH_EVERY:
            self._tokens.touch(token.id, at, TOUCH_EVERY)
        return Principal(user=owner.name, role=Role.parse(owner.role), via="token", token_id=token.id)

    # -- sessions ---------------------------------------------------------------------------------------
    def open_session(self, principal: Principal, ttl: timedelta = SESSION_TTL) -> SessionGrant:
        """A dashboard session for ``principal`` (from ``check_password``), ending after ``ttl``."""
        if ttl <= timedelta(0):
            raise InvalidInput(f"a session lasts a positive duration, not {ttl}")
        secret = credentials.new_session_secret()
        now = datetime.now(UTC)
        self._sessions.add(credentials.sha256(secret), principal.user, now, now + ttl, via=principal.via)
        return SessionGrant(secret=secret, csrf_token=credentials.csrf_token_of(secret), expires_at=now + ttl)

    def session(self, secret: str, now: datetime | None = None) -> tuple[Principal, str]:
        """The principal of a session cookie's secret and the session's CSRF token; Unauthenticated when the
        session is unknown (signed out, never opened), expired, or its user disabled."""
        at = now or datetime.now(UTC)
        found = self._sessions.get(credentials.sha256(secret))
        if found is None:
            raise Unauthenticated("no such session (signed out or never signed in); sign in again")
        if found.expires_at <= at:
            raise Unauthenticated(f"the session expired at {_when(found.expires_at)}; sign in again")
        if found.user.disabled:
            raise _disabled(found.user.name)
        principal = Principal(user=found.user.name, role=Role.parse(found.user.role), via="session")
        return principal, credentials.csrf_token_of(secret)

    def close_session(self, secret: str) -> None:
        """Sign out: the session's secret stops working (closing an unknown session is not an error)."""
        self._sessions.remove(credentials.sha256(secret))


def check_csrf(session_secret: str, token: str | None) -> None:
    """Refuse a dashboard form whose CSRF token is not its session's: Forbidden, compared in constant time."""
    if token is None or not credentials.same_csrf_token(session_secret, token):
        raise Forbidden("the form's CSRF token does not match the session; reload the page and try again")


def _check_usable(token: TokenRecord, owner: UserRecord, at: datetime) -> None:
    """Unauthenticated when a token whose secret matched may not be used: revoked, expired, user disabled."""
    again = f"create a new one with 'shipyard tokens create --user {owner.name}'"
    if token.revoked_at is not None:
        raise Unauthenticated(
            f"API token {token.id} ({token.name}) was revoked on {_when(token.revoked_at)}; {again}"
        )
    if token.expires_at is not None and token.expires_at <= at:
        raise Unauthenticated(
            f"API token {token.id} ({token.name}) expired on {_when(token.expires_at)}; {again}"
        )
    if owner.disabled:
        raise _disabled(owner.name)


def _disabled(name: str) -> Unauthenticated:
    return Unauthenticated(
        f"user {name} is disabled; an admin can enable it again (shipyard users enable {name})"
    )


def _role(role: Role | str) -> Role:
    return role if isinstance(role, Role) else Role.parse(role)


def _when(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _user(record: UserRecord) -> User:
    return User(
        name=record.name,
        role=Role.parse(record.role),
        disabled=record.disabled,
        has_password=record.password_hash is not None,
        created_at=record.created_at,
        created_by=record.created_by,
    )


def _token_info(record: TokenRecord) -> TokenInfo:
    return TokenInfo(
        id=record.id,
        user=record.user,
        name=record.name,
        created_at=record.created_at,
        created_by=record.created_by,
        expires_at=record.expires_at,
        revoked_at=record.revoked_at,
        last_used_at=record.last_used_at,
    )
