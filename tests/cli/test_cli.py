"""The command line: the same registry behaviour, with tables, JSON, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shipyard.cli import main
from shipyard.flavors import get_flavor
from tests.models import tiny_classifier


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["init"]) == 0
    return tmp_path / "ws"


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    return get_flavor("sklearn").save(tiny_classifier(), tmp_path).path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_init_creates_workspace_with_settings_file(home: Path) -> None:
    assert (home / "shipyard.toml").is_file()
    assert (home / "registry.db").is_file()
    assert main(["init"]) == 4  # Conflict: it exists
    assert main(["init", "--exist-ok"]) == 0


def test_config_prints_effective_settings_and_their_sources(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_ACTOR", "ci-bot")
    monkeypatch.setenv("COLUMNS", "1000")  # long temporary paths must not wrap inside the table
    settings = run_json(capsys, "config")
    assert settings == {
        "home": str(home),
        "registry_url": f"sqlite:///{home / 'registry.db'}",
        "artifacts_url": f"file://{home / 'artifacts'}",
        "actor": "ci-bot",
        "busy_timeout": 30.0,
        "gates_file": "",
        "alerts_file": "",
        "ray_address": "",
        "log_url": f"file://{home / 'logs'}",
        "log_flush_seconds": 1.0,
        "log_retention_days": 30.0,
        "log_sample_rate": 1.0,
        "log_usage_seconds": 5.0,
        "s3_endpoint_url": "",
        "s3_region": "",
        "s3_access_key_id": "",
        "s3_secret_access_key": "",
        "s3_connect_timeout": 3.0,
        "s3_read_timeout": 10.0,
        "s3_max_attempts": 3,
    }
    assert main(["config"]) == 0
    table = capsys.readouterr().out
    assert "$SHIPYARD_ACTOR" in table and "shipyard.toml" in table


def test_register_alias_rollback_and_audit_round_trip(
    home: Path, model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = run_json(
        capsys, "register", "fraud", str(model_file), "-m", "auc=0.9", "-p", "C=1.5", "-t", "team=risk"
    )
    assert isinstance(first, dict)
    assert (first["version"], first["flavor"], first["metrics"], first["params"]) == (
        1,
        "sklearn",
        {"auc": 0.9},
        {"C": 1.5},
    )
    assert main(["register", "fraud", str(model_file)]) == 0
    assert "registered fraud/2" in capsys.readouterr().out

    assert main(["alias", "set", "fraud@production", "1", "--reason", "launch"]) == 0
    assert main(["alias", "set", "fraud@production", "2"]) == 0
    assert "fraud@production: v1 → v2" in capsys.readouterr().out
    assert main(["rollback", "fraud@production", "--reason", "incident"]) == 0
    assert "fraud@production: v2 → v1" in capsys.readouterr().out

    shown = run_json(capsys, "models", "show", "fraud@production")
    assert isinstance(shown, dict) and shown["version"] == 1 and shown["aliases"] == ["production"]
    listed = run_json(capsys, "models", "list")
    assert listed == [
        {**listed[0], "name": "fraud", "latest_version": 2, "aliases": {"production": 1}}  # type: ignore[index]
    ]
    events = run_json(capsys, "audit", "--model", "fraud")
    assert isinstance(events, list)
    assert [e["action"] for e in events][-3:] == ["alias.set", "alias.set", "alias.rollback"]
    assert events[-1]["reason"] == "incident" and events[-1]["actor"] == "tester"
    history = run_json(capsys, "alias", "history", "fraud@production")
    assert [h["version"] for h in history] == [1, 2, 1]  # type: ignore[index]


def test_tables_for_people(home: Path, model_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["register", "fraud", str(model_file), "-d", "Flags fraud."])
    main(["alias", "set", "fraud@staging", "1"])
    capsys.readouterr()
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "fraud" in out and "staging=v1" in out
    assert main(["models", "show", "fraud"]) == 0
    assert "sklearn" in capsys.readouterr().out
    assert main(["models", "show", "fraud/1", "--card"]) == 0
    assert "Flags fraud." in capsys.readouterr().out
    assert main(["audit"]) == 0
    assert "version.register" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["models", "show", "nope"], 3, "model 'nope' not found"),
        (["models", "show", "fraud/9"], 3, "has no version 9"),
        (["alias", "set", "fraud@production", "7"], 3, "has no version 7"),
        (["alias", "set", "fraud/1", "1"], 2, "alias reference"),
        (["rollback", "fraud@production"], 3, "alias 'production' not found"),
        (["register", "bad/name", "x.skops"], 2, "must not contain"),
        (["register", "fraud", "missing.skops"], 2, "does not exist"),
        (["register", "fraud", "model.skops", "-m", "auc=high"], 2, "must be a number"),
    ],
)
def test_errors_are_one_line_with_an_exit_code(
    home: Path,
    model_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    code: int,
    message: str,
) -> None:
    monkeypatch.chdir(model_file.parent)
    main(["register", "fraud", str(model_file)])
    capsys.readouterr()
    assert main(args) == code
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    if lines[0].startswith("workspace: "):  # a command that changes the workspace names it first
        assert lines.pop(0) == f"workspace: {home}" and args[0] in {"register", "alias", "rollback"}
    assert len(lines) == 1


def test_export_writes_a_verified_copy_that_registers_again(
    home: Path, model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["register", "fraud", str(model_file)])
    exported = tmp_path / "out" / "fraud-1.skops"
    assert main(["models", "export", "fraud/1", str(exported)]) == 0
    assert exported.read_bytes() == model_file.read_bytes()
    assert main(["register", "fraud", str(exported)]) == 0
    assert "registered fraud/2" in capsys.readouterr().out


def test_version_flag_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    from shipyard import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"shipyard {__version__}"


def test_debug_flag_shows_the_traceback(home: Path) -> None:
    from shipyard import NotFound

    with pytest.raises(NotFound):
        main(["--debug", "models", "show", "nope"])


def test_installed_console_script_runs_end_to_end(tmp_path: Path, model_file: Path) -> None:
    script = Path(sys.executable).with_name("shipyard")
    if not script.exists():
        pytest.fail("the shipyard console script is not installed; run 'make test' (pip install -e .)")
    env = {**os.environ, "SHIPYARD_HOME": str(tmp_path / "cli-ws")}
    done = subprocess.run(
        [str(script), "register", "fraud", str(model_file)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    missing = subprocess.run(
        [str(script), "models", "show", "fraud/5"], env=env, capture_output=True, text=True
    )
    assert missing.returncode == 3
    assert missing.stderr.startswith("error: model 'fraud' has no version 5")


def test_serve_refuses_an_unknown_reference_before_starting(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "nope@production", "--port", "1"]) == 3
    assert "model 'nope' not found" in capsys.readouterr().err
