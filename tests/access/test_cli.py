"""``shipyard users`` and ``shipyard tokens`` on a real workspace: adding users with a piped password, roles,
disabling, a token's secret printed once and never listed, revoking, and the exit codes of mistakes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from shipyard.access import AccessService, Role
from shipyard.cli import main
from shipyard.errors import Unauthenticated
from shipyard.registry import Registry

PASSWORD = "correct horse battery"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["init"]) == 0
    return tmp_path / "ws"


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def service(home: Path) -> AccessService:
    registry = Registry(home=home)
    return AccessService(registry.db, "test")


def test_users_are_added_listed_given_roles_and_disabled(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n"))
    assert main(["users", "add", "alice", "--role", "admin", "--password-stdin"]) == 0
    assert "added alice as admin; signs in with a password and API tokens" in capsys.readouterr().out
    assert main(["users", "add", "ci", "--role", "operator"]) == 0
    assert "added ci as operator; signs in with API tokens (no password)" in capsys.readouterr().out
    assert service(home).check_password("alice", PASSWORD).role is Role.ADMIN  # the newline is not kept

    assert main(["users", "role", "ci", "viewer"]) == 0
    assert main(["users", "disable", "ci"]) == 0
    assert "ci is disabled" in capsys.readouterr().out
    users = run_json(capsys, "users", "list")
    assert [(u["name"], u["role"], u["has_password"], u["disabled"], u["created_by"]) for u in users] == [
        ("alice", "admin", True, False, "tester"),
        ("ci", "viewer", False, True, "tester"),
    ]
    assert main(["users", "list"]) == 0
    table = capsys.readouterr().out
    assert "alice" in table and "disabled" in table and "scrypt" not in table


def test_mistakes_exit_with_their_error_codes(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["users", "add", "alice", "--role", "admn"]) == 2
    assert "did you mean 'admin'" in capsys.readouterr().err
    assert main(["users", "add", "alice", "--role", "admin"]) == 0
    assert main(["users", "add", "alice", "--role", "viewer"]) == 4
    assert main(["users", "role", "alice", "viewer"]) == 4  # the only admin
    assert "only enabled admin" in capsys.readouterr().err
    assert main(["users", "disable", "alcie"]) == 3
    assert "did you mean 'alice'" in capsys.readouterr().err
    assert main(["tokens", "create", "--user", "alice", "--expires", "90 days"]) == 2
    assert "--expires is a number and a unit" in capsys.readouterr().err


def test_a_token_secret_is_printed_once_and_never_listed(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "add", "ci", "--role", "operator"]) == 0
    capsys.readouterr()
    assert main(["tokens", "create", "--user", "ci", "--name", "ci", "--expires", "90d"]) == 0
    said = capsys.readouterr()
    lines = said.out.splitlines()
    secret = next(line for line in lines if line.startswith("shy_"))
    assert "expires" in lines[0] and "this is the only time the secret is shown" in said.out
    principal = service(home).authenticate(secret)
    assert (principal.user, principal.role, principal.via) == ("ci", Role.OPERATOR, "token")

    issued = run_json(capsys, "tokens", "create", "--user", "ci")
    assert issued["secret"].startswith(f"shy_{issued['id']}_") and issued["expires_at"] is None
    listed = run_json(capsys, "tokens", "list", "--user", "ci")
    assert [(t["name"], t["state"]) for t in listed] == [("ci", "active"), ("default", "active")]
    assert secret not in json.dumps(listed) and issued["secret"] not in json.dumps(listed)

    token_id = secret.split("_")[1]
    assert main(["tokens", "revoke", token_id]) == 0
    assert f"token {token_id} (ci) of ci is revoked" in capsys.readouterr().out
    with pytest.raises(Unauthenticated, match="was revoked"):
        service(home).authenticate(secret)
    assert main(["tokens", "list"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["tokens", "revoke", token_id]) == 4


def test_a_password_is_set_or_removed_from_standard_input(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["users", "add", "bob", "--role", "viewer"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD))
    assert main(["users", "password", "bob", "--password-stdin"]) == 0
    assert service(home).check_password("bob", PASSWORD).user == "bob"
    assert main(["users", "password", "bob", "--remove"]) == 0
    with pytest.raises(Unauthenticated, match="wrong user name or password"):
        service(home).check_password("bob", PASSWORD)
    assert main(["users", "password", "bob"]) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["users", "add", "carol", "--role", "viewer", "--password-stdin"]) == 2
    assert "read an empty line" in capsys.readouterr().err
