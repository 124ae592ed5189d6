"""The CLI against a real ``shipyard server --auth`` (SHIPYARD_URL, SHIPYARD_TOKEN): the registry and
production commands go through the API and print what they print on the workspace, each as the user the
token names; a command that needs the workspace itself refuses and says where to run it.

The server is this module's own (the session's ``control`` plane counts its audit events exactly)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shipyard import Registry
from shipyard.cli import main
from shipyard.errors import ConfigurationError, GateFailed, Unauthorized
from shipyard.flavors import get_flavor
from tests.control.conftest import ControlPlane, control_plane, stop
from tests.models import classification_frame, tiny_classifier

Outcome = tuple[int, str, str]  # exit code, stdout, stderr


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A server of its own (``fraud`` v1-v3 with production on v2, a user with a token per role): the
    commands here change what the shared one's tests count."""
    running = control_plane(tmp_path_factory.mktemp("cli-remote") / "ws")
    yield running
    stop(running.process)


@dataclass
class Cli:
    """``shipyard ARGS`` as ``main`` runs it: through the server, or on its workspace itself."""

    server: ControlPlane
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]

    def remotely(self, token: str | None, *args: str) -> Outcome:
        """With SHIPYARD_URL set to the server and SHIPYARD_TOKEN to ``token`` (a role's, or as given)."""
        self.monkeypatch.delenv("SHIPYARD_HOME", raising=False)
        self.monkeypatch.setenv("SHIPYARD_URL", self.server.url)
        if token is None:
            self.monkeypatch.delenv("SHIPYARD_TOKEN", raising=False)
        else:
            self.monkeypatch.setenv("SHIPYARD_TOKEN", self.server.tokens.get(token, token))
        return self._main(*args)

    def locally(self, *args: str) -> Outcome:
        self.monkeypatch.delenv("SHIPYARD_URL", raising=False)
        self.monkeypatch.setenv("SHIPYARD_HOME", str(self.server.home))
        return self._main(*args)

    def _main(self, *args: str) -> Outcome:
        self.capsys.readouterr()
        code = main(list(args))
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err


@pytest.fixture
def cli(server: ControlPlane, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    monkeypatch.setenv("COLUMNS", "250")
    return Cli(server, monkeypatch, capsys)


def test_models_list_and_show_print_what_the_workspace_prints(cli: Cli) -> None:
    remotely, locally = cli.remotely, cli.locally
    for command in (
        ["models", "list"],
        ["models", "list", "--json"],
        ["models", "show", "fraud"],
        ["models", "show", "fraud/1"],
        ["models", "show", "fraud@production", "--json"],
        ["models", "show", "fraud/2", "--card"],
        ["alias", "history", "fraud"],
        ["alias", "history", "fraud@production", "--json"],
    ):
        code, out, _ = remotely("viewer", *command)
        assert code == 0 and out, command
        assert (code, out) == locally(*command)[:2], command
    assert "fraud" in remotely("viewer", "models", "list")[1]
    code, _, err = remotely("viewer", "models", "show", "frud")
    assert code == 3 and "did you mean 'fraud'" in err


def test_a_model_file_registered_through_the_server_is_in_the_workspace(
    cli: Cli, server: ControlPlane, tmp_path: Path
) -> None:
    remotely = cli.remotely
    model_file = get_flavor("sklearn").save(tiny_classifier(5), tmp_path).path
    frame, _ = classification_frame()
    frame.to_csv(tmp_path / "reference.csv", index=False)
    args = ["register", "laptop-model", str(model_file), "-m", "auc=0.91", "-t", "team=risk", "--seed", "5"]
    code, out, err = remotely("operator", *args, "--reference", str(tmp_path / "reference.csv"), "--json")
    assert code == 0, err
    assert err.startswith(f"server: {server.url}")
    shown = json.loads(out)
    with Registry(home=server.home) as local:
        stored = local.resolve("laptop-model/1")
    assert stored.to_dict() == shown
    assert (stored.metrics, stored.tags, stored.created_by) == (
        {"auc": 0.91},
        {"team": "risk"},
        "operator-user",
    )
    assert stored.profile is not None and stored.lineage["seed"] == 5  # profiled from the reference rows
    code, out, _ = remotely("operator", "register", "laptop-model", str(model_file))
    assert code == 0 and "registered laptop-model/2 (sklearn" in out and "drift is not monitored" in out
    code, _, err = remotely("operator", "register", "laptop-model", str(model_file), "--trust")
    assert code == 2 and "a server never loads one" in err
    code, _, err = remotely("viewer", "register", "laptop-model", str(model_file))
    assert code == Unauthorized.exit_code and "registering a version needs the operator role" in err


def test_an_operator_rolls_back_a_viewer_is_refused_and_the_audit_names_who(
    cli: Cli, server: ControlPlane
) -> None:
    remotely, locally = cli.remotely, cli.locally
    with Registry(home=server.home, actor="tests") as registry:
        for seed in (1, 2):
            registry.register("rollback-model", tiny_classifier(seed))
    assert remotely("admin", "alias", "set", "rollback-model@production", "1")[0] == 0
    code, out, _ = remotely("admin", "alias", "set", "rollback-model@production", "2", "-r", "newer")
    assert code == 0 and "rollback-model@production: v1 → v2" in out

    code, out, err = remotely("viewer", "rollback", "rollback-model@production")
    assert code == Unauthorized.exit_code and not out
    assert "error:" in err and "rollback needs the operator role" in err
    code, out, _ = remotely("operator", "rollback", "rollback-model@production", "--reason", "bad canary")
    assert code == 0 and "rollback-model@production: v2 → v1" in out
    with Registry(home=server.home) as local:
        assert local.resolve("rollback-model@production").version == 1

    audit = ["audit", "--model", "rollback-model", "--action", "alias."]
    code, out, _ = remotely("viewer", *audit)
    assert code == 0 and "operator-user" in out and "admin-user" in out and "bad canary" in out
    assert (code, out) == locally(*audit)[:2]
    [event] = json.loads(remotely("viewer", *audit[:3], "--action", "alias.rollback", "--json")[1])
    assert (event["actor"], event["reason"]) == ("operator-user", "bad canary")
    assert remotely("operator", "alias", "delete", "rollback-model@production")[0] == Unauthorized.exit_code
    code, out, _ = remotely("admin", "alias", "delete", "rollback-model@production", "-r", "retired")
    assert code == 0 and "rollback-model@production: v1 → (deleted)" in out


def test_promote_prints_the_servers_gate_report_and_a_refusal_exits_as_locally(
    cli: Cli, server: ControlPlane
) -> None:
    remotely = cli.remotely
    code, out, err = remotely("admin", "promote", "fraud/3", "--to", "candidate")
    assert code == 0, err
    assert "gate fraud/3 → candidate (current holder: none" in out and "check" in out and "result" in out
    assert "promoted: fraud@candidate (unset) → v3" in out

    with (server.home / "shipyard.toml").open("a") as settings:  # the server's own policy judges
        settings.write('\n[gates.fraud.strict]\nmetrics = { roc_auc = ">= 0.9999" }\n')
    code, out, err = remotely("admin", "promote", "fraud/3", "--to", "strict")
    assert code == GateFailed.exit_code == 1
    assert "roc_auc" in out and "FAIL" in out  # the report's table, before the one-line error
    assert "error: fraud/3 failed the gate to strict" in " ".join(err.split())
    code, out, _ = remotely("admin", "promote", "fraud/3", "--to", "strict", "--json")
    refused = json.loads(out)
    assert code == 1 and refused["alias"] is None and refused["gate"]["passed"] is False
    with Registry(home=server.home) as local:
        assert "strict" not in local.get_model("fraud").aliases
    code, _, err = remotely("admin", "promote", "fraud/2", "--to", "strict", "--policy", "gates.toml")
    assert code == 2 and "the server gates by its own workspace's policy" in err
    code, _, err = remotely("operator", "promote", "fraud/2", "--to", "candidate")
    assert code == Unauthorized.exit_code and "needs the admin role" in err


def test_rollouts_alerts_and_retraining_runs_read_and_steer_through_the_server(
    cli: Cli, server: ControlPlane
) -> None:
    remotely, locally = cli.remotely, cli.locally
    with server.client("admin") as admin:
        assert admin.put("/api/v1/models/fraud/aliases/canary", json={"version": 1}).status_code == 200
        plan = {"model": "fraud", "alias": "canary", "to": 3, "steps": [10, 100], "reason": "try v3"}
        assert admin.post("/api/v1/rollouts", json=plan).status_code == 200
    for command in (["rollout", "status"], ["rollout", "history", "fraud", "--json"], ["retrain", "history"]):
        code, out, _ = remotely("viewer", *command)
        assert code == 0 and (code, out) == locally(*command)[:2], command
    assert "fraud@canary" in remotely("viewer", "rollout", "status", "fraud", "--alias", "canary")[1]
    code, out, err = remotely("operator", "rollout", "pause", "fraud", "--alias", "canary", "-r", "lunch")
    assert code == 0 and "of fraud@canary paused at step 1 (10% to the candidate)" in out, err
    assert remotely("viewer", "rollout", "resume", "fraud", "--alias", "canary")[0] == Unauthorized.exit_code
    assert (
        remotely("operator", "rollout", "promote", "fraud", "--alias", "canary")[0] == Unauthorized.exit_code
    )
    code, out, _ = remotely("operator", "rollout", "abort", "fraud", "--alias", "canary", "-r", "enough")
    assert code == 0 and "aborted (enough): it stays on v1" in out
    assert "no active rollout" in remotely("viewer", "rollout", "status")[1]

    code, out, _ = remotely("operator", "alerts", "silence", "--for", "2h", "--model", "fraud", "--json")
    made = json.loads(out)
    try:
        assert code == 0 and made["matchers"] == {"model": "fraud"}
        code, out, _ = remotely("viewer", "alerts", "silences", "--json")
        assert [(s["id"], s["created_by"]) for s in json.loads(out)] == [(made["id"], "operator-user")]
        assert (code, out) == locally("alerts", "silences", "--json")[:2]
        for command in (["alerts", "list"], ["alerts", "history", "--json"]):
            assert remotely("viewer", *command)[:2] == locally(*command)[:2], command
    finally:
        code, out, _ = remotely("operator", "alerts", "unsilence", str(made["id"]))
    assert code == 0 and f"silence {made['id']} ended" in out
    assert json.loads(remotely("viewer", "alerts", "silences", "--json")[1]) == []


def test_a_workspace_command_refuses_and_says_where_it_runs(cli: Cli, tmp_path: Path) -> None:
    remotely = cli.remotely
    for command in (
        ("train", str(tmp_path / "spec.toml")),
        ("monitor run", "fraud@production"),
        ("rollout start", "fraud", "--to", "3"),
        ("gate check", "fraud/3", "--to", "production"),
        ("models export", "fraud/1", str(tmp_path / "model.skops")),
        ("serve", "fraud@production"),
        ("server",),
        ("init", str(tmp_path / "new")),
        ("config",),
    ):
        code, out, err = remotely("admin", *command[0].split(), *command[1:])
        said = " ".join(err.split())
        assert code == ConfigurationError.exit_code and not out, command
        assert f"'shipyard {command[0]}' runs where the workspace's database and artifacts are" in said
        assert f"server at SHIPYARD_URL={cli.server.url}: unset SHIPYARD_URL" in said


def test_a_workspace_and_a_server_together_are_refused(cli: Cli, server: ControlPlane) -> None:
    remotely = cli.remotely
    code, _, err = remotely("viewer", "--home", str(server.home), "models", "list")
    said = " ".join(err.split())
    assert code == ConfigurationError.exit_code
    assert "both SHIPYARD_URL=" in said and f"--home or SHIPYARD_HOME={server.home}" in said


def test_a_wrong_or_missing_token_is_told_how_to_get_one(cli: Cli) -> None:
    remotely = cli.remotely
    code, out, err = remotely("shy_0123456789ab_notarealsecret", "models", "list")
    assert code == Unauthorized.exit_code and not out
    assert "is unknown; create one with 'shipyard tokens create --user NAME'" in " ".join(err.split())
    code, _, err = remotely(None, "rollback", "fraud@production")
    assert code == Unauthorized.exit_code and "this server needs a token" in err
