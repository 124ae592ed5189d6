"""The access service on SQLite and PostgreSQL: roles, passwords, API tokens, sessions, the audit trail, and
that only hashes of secrets are ever stored."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from shipyard.access import AccessService, Principal, Role, check_csrf, require
from shipyard.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated, Unauthorized
from shipyard.store.audit import AuditLog
from shipyard.store.database import Database

PASSWORD = "correct horse battery"


@pytest.fixture
def db(registry_url: str) -> Iterator[Database]:
    database = Database(registry_url)
    yield database
    database.dispose()


@pytest.fixture
def access(db: Database) -> AccessService:
    service = AccessService(db, "root")
    service.create_user("alice", Role.ADMIN, PASSWORD)
    service.create_user("bob", "operator")
    return service


def table_text(db: Database, table: str) -> str:
    """Every value of every row of ``table``, as one text: what someone reading the database would see."""
    with db.engine.connect() as connection:
        rows = connection.execute(text(f"SELECT * FROM {table}")).all()
    return repr([tuple(str(value) for value in row) for row in rows])


def test_roles_are_ordered_and_read_by_name() -> None:
    assert Role.VIEWER < Role.OPERATOR < Role.ADMIN
    assert [role.label for role in Role] == ["viewer", "operator", "admin"]
    assert Role.parse(" Operator ") is Role.OPERATOR
    with pytest.raises(
        InvalidInput, match="role 'admn' is not one of viewer, operator, admin; did you mean 'admin'"
    ):
        Role.parse("admn")
    assert Principal("carol", Role.OPERATOR, "token").can(Role.VIEWER)
    assert Principal.local("root") == Principal("root", Role.ADMIN, "local")


def test_require_names_the_role_needed_and_the_role_held() -> None:
    require(Principal("alice", Role.ADMIN, "session"), Role.OPERATOR, "rollback")
    with pytest.raises(Forbidden, match="^promote needs the admin role; alice is an operator") as refused:
        require(Principal("alice", Role.OPERATOR, "token"), Role.ADMIN, "promote")
    assert "shipyard users role alice admin" in str(refused.value)
    assert isinstance(refused.value, Unauthorized) and refused.value.http_status == 403
    with pytest.raises(Forbidden, match="silence needs the operator role; vic is a viewer"):
        require(Principal("vic", Role.VIEWER, "session"), Role.OPERATOR, "silence")
    assert (Unauthenticated.http_status, Unauthenticated.exit_code, Forbidden.exit_code) == (401, 6, 6)


def test_a_password_signs_in_and_every_wrong_answer_gets_the_same_message(access: AccessService) -> None:
    assert access.check_password("alice", PASSWORD) == Principal("alice", Role.ADMIN, "session")
    messages = set()
    attempts = [("alice", "wrong password"), ("nobody", PASSWORD), ("bob", PASSWORD), ("alice", "x" * 10**6)]
    for name, password in attempts:
        with pytest.raises(Unauthenticated) as refused:
            access.check_password(name, password)
        messages.add(str(refused.value))
    assert messages == {
        "wrong user name or password; check both, or ask an admin to set a new password "
        "(shipyard users password NAME --password-stdin)"
    }


def test_passwords_are_stored_as_salted_scrypt_hashes(access: AccessService, db: Database) -> None:
    access.create_user("carol", Role.VIEWER, PASSWORD)
    stored = table_text(db, "users")
    assert PASSWORD not in stored
    hashes = [user_hash for user_hash in stored.split("'") if user_hash.startswith("scrypt$")]
    assert len(hashes) == 2 and hashes[0] != hashes[1]  # the same password, two salts
    assert all(user_hash.startswith("scrypt$16384$8$1$") for user_hash in hashes)
    with pytest.raises(InvalidInput, match="at least 8 characters"):
        access.create_user("dave", Role.VIEWER, "short")


def test_a_new_password_replaces_the_old_one_and_closes_sessions(access: AccessService) -> None:
    grant = access.open_session(access.check_password("alice", PASSWORD))
    access.set_password("alice", "another good password")
    assert access.check_password("alice", "another good password").user == "alice"
    with pytest.raises(Unauthenticated, match="wrong user name or password"):
        access.check_password("alice", PASSWORD)
    with pytest.raises(Unauthenticated, match="sign in again"):
        access.session(grant.secret)


def test_a_token_acts_as_its_user_with_the_role_the_user_holds_now(access: AccessService) -> None:
    token = access.issue_token("bob", "ci", expires=timedelta(days=90))
    assert token.secret.startswith(f"shy_{token.id}_") and len(token.secret) > 50
    assert token.expires_at is not None and token.expires_at - datetime.now(UTC) > timedelta(days=89)
    assert access.authenticate(token.secret) == Principal("bob", Role.OPERATOR, "token", token.id)
    access.set_role("bob", "viewer")
    assert access.authenticate(token.secret).role is Role.VIEWER
    (listed,) = access.list_tokens("bob")
    assert (listed.id, listed.name, listed.state()) == (token.id, "ci", "active")
    assert token.secret not in repr(listed) and "secret" not in listed.to_dict()


def test_only_hashes_of_token_and_session_secrets_are_stored(access: AccessService, db: Database) -> None:
    token = access.issue_token("alice", "ci")
    grant = access.open_session(access.check_password("alice", PASSWORD))
    tokens, sessions = table_text(db, "api_tokens"), table_text(db, "sessions")
    random_part = token.secret.split("_", 2)[2]
    assert token.secret not in tokens and random_part not in tokens
    assert hashlib.sha256(token.secret.encode()).hexdigest() in tokens
    assert grant.secret not in sessions and grant.csrf_token not in sessions
    assert hashlib.sha256(grant.secret.encode()).hexdigest() in sessions
    audit = table_text(db, "audit_events")
    assert random_part not in audit and grant.secret not in audit and PASSWORD not in audit


def test_an_expired_token_is_refused_naming_the_day_it_expired(access: AccessService) -> None:
    token = access.issue_token("bob", "ci", expires=timedelta(days=1))
    assert token.expires_at is not None
    later = token.expires_at + timedelta(seconds=1)
    with pytest.raises(
        Unauthenticated, match=f"API token {token.id} \\(ci\\) expired on {token.expires_at:%Y-%m-%d}"
    ):
        access.authenticate(token.secret, now=later)
    assert access.list_tokens()[0].state(later) == "expired"
    with pytest.raises(InvalidInput, match="positive"):
        access.issue_token("bob", "ci", expires=timedelta(0))


def test_a_revoked_token_is_refused_and_cannot_be_revoked_twice(access: AccessService) -> None:
    token = access.issue_token("bob", "ci")
    other = access.issue_token("bob", "deploy")
    revoked = access.revoke_token(token.id)
    assert revoked.state() == "revoked"
    with pytest.raises(
        Unauthenticated, match=f"API token {token.id} \\(ci\\) was revoked on .*tokens create --user bob"
    ):
        access.authenticate(token.secret)
    assert access.authenticate(other.secret).user == "bob"
    with pytest.raises(Conflict, match="revoked already"):
        access.revoke_token(token.id)
    with pytest.raises(NotFound, match="API token 'nope' not found"):
        access.revoke_token("nope")


def test_a_forged_or_malformed_token_is_unknown(access: AccessService) -> None:
    token = access.issue_token("alice", "ci")
    forged = token.secret[:-4] + ("AAAA" if not token.secret.endswith("AAAA") else "BBBB")
    for secret in (forged, "shy_0123456789ab_" + "x" * 43):
        with pytest.raises(Unauthenticated, match="is unknown; create one with 'shipyard tokens create"):
            access.authenticate(secret)
    for secret in ("", "Bearer abc", "shy_short_abc", "shy_0123456789ab_"):
        with pytest.raises(Unauthenticated, match="not a shipyard API token"):
            access.authenticate(secret)
    assert access.list_tokens()[0].last_used_at is None  # failed attempts are not uses


def test_a_disabled_user_cannot_sign_in_and_enabling_it_restores_its_tokens(access: AccessService) -> None:
    token = access.issue_token("bob", "ci")
    access.set_password("bob", PASSWORD)
    grant = access.open_session(access.check_password("bob", PASSWORD))
    access.disable("bob")
    with pytest.raises(Unauthenticated, match="user bob is disabled; .*shipyard users enable bob"):
        access.authenticate(token.secret)
    with pytest.raises(Unauthenticated, match="user bob is disabled"):
        access.check_password("bob", PASSWORD)
    with pytest.raises(Unauthenticated, match="sign in again"):  # its sessions were closed
        access.session(grant.secret)
    with pytest.raises(Conflict, match="bob is disabled; enable it first"):
        access.issue_token("bob", "another")
    access.enable("bob")
    assert access.authenticate(token.secret).user == "bob"


def test_last_use_is_written_at_most_once_a_minute(access: AccessService) -> None:
    token = access.issue_token("bob", "ci")
    start = datetime.now(UTC) + timedelta(seconds=5)
    access.authenticate(token.secret, now=start)
    access.authenticate(token.secret, now=start + timedelta(seconds=30))
    assert access.list_tokens()[0].last_used_at == start
    access.authenticate(token.secret, now=start + timedelta(seconds=61))
    assert access.list_tokens()[0].last_used_at == start + timedelta(seconds=61)


def test_a_session_gives_its_principal_and_csrf_token_until_it_expires_or_closes(
    access: AccessService,
) -> None:
    grant = access.open_session(access.check_password("alice", PASSWORD), ttl=timedelta(hours=1))
    principal, csrf = access.session(grant.secret)
    assert principal == Principal("alice", Role.ADMIN, "session") and csrf == grant.csrf_token
    check_csrf(grant.secret, grant.csrf_token)
    other = access.open_session(access.check_password("alice", PASSWORD))
    for wrong in (other.csrf_token, None, ""):
        with pytest.raises(Forbidden, match="CSRF token does not match"):
            check_csrf(grant.secret, wrong)
    with pytest.raises(
        Unauthenticated, match=f"the session expired at {grant.expires_at:%Y-%m-%d %H:%M} UTC; sign in again"
    ):
        access.session(grant.secret, now=grant.expires_at + timedelta(seconds=1))
    access.close_session(grant.secret)
    with pytest.raises(Unauthenticated, match="no such session .*sign in again"):
        access.session(grant.secret)
    assert access.session(other.secret)[0].user == "alice"  # closing one session leaves the others


def test_expired_sessions_are_dropped_when_a_new_one_opens(access: AccessService, db: Database) -> None:
    access.open_session(Principal("alice", Role.ADMIN, "session"), ttl=timedelta(microseconds=1))
    access.open_session(Principal("alice", Role.ADMIN, "session"))
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM sessions")).scalar() == 1


def test_the_last_enabled_admin_cannot_be_demoted_or_disabled(access: AccessService) -> None:
    with pytest.raises(
        Conflict, match="alice is the only enabled admin; give another user the admin role first"
    ):
        access.set_role("alice", "operator")
    with pytest.raises(Conflict, match="only enabled admin"):
        access.disable("alice")
    access.set_role("bob", "admin")
    access.set_role("alice", "viewer")
    assert {user.name: user.role for user in access.list_users()} == {"alice": Role.VIEWER, "bob": Role.ADMIN}


def test_two_admins_demoting_each_other_at_once_leave_one_admin(access: AccessService, db: Database) -> None:
    access.set_role("bob", "admin")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(name: str) -> None:
        barrier.wait()
        try:
            AccessService(db, "root").set_role(name, "viewer")
            outcomes.append("demoted")
        except Conflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=demote, args=(name,)) for name in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["demoted", "refused"]
    assert [user.role for user in access.list_users()].count(Role.ADMIN) == 1


def test_users_are_unique_and_an_unknown_user_names_the_closest(access: AccessService) -> None:
    with pytest.raises(Conflict, match="user 'alice' exists already"):
        access.create_user("alice", "viewer")
    with pytest.raises(NotFound, match="user 'alcie' not found; did you mean 'alice'"):
        access.issue_token("alcie", "ci")
    with pytest.raises(InvalidInput, match="user name 'a/b' must not contain"):
        access.create_user("a/b", "viewer")
    assert [(user.name, user.has_password, user.created_by) for user in access.list_users()] == [
        ("alice", True, "root"),
        ("bob", False, "root"),
    ]


def test_every_change_is_audited_with_its_actor(access: AccessService, db: Database) -> None:
    token = access.issue_token("bob", "ci", expires=timedelta(days=7))
    AccessService(db, "carol").revoke_token(token.id)
    access.set_role("bob", "viewer")
    access.create_user("dave", "viewer")
    access.disable("dave")
    access.open_session(access.check_password("alice", PASSWORD))
    events = AuditLog(db).newest(model=None, action=None, since=None, limit=50)
    seen = [(event.actor, event.action, event.target) for event in events]
    assert seen == [
        ("root", "user.create", "alice"),
        ("root", "user.create", "bob"),
        ("root", "token.issue", token.id),
        ("carol", "token.revoke", token.id),
        ("root", "user.role", "bob"),
        ("root", "user.create", "dave"),
        ("root", "user.disable", "dave"),
        ("alice", "session.open", "alice"),
    ]
    role_change = events[4]
    assert (role_change.before, role_change.after) == (
        {"role": "operator", "disabled": False},
        {"role": "viewer", "disabled": False},
    )
    assert (
        events[2].after is not None and events[2].after["user"] == "bob" and events[2].after["name"] == "ci"
    )
