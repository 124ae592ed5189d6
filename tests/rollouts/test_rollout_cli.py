"""``shipyard rollout``: plans from flags, shipyard.toml and --plan files, each command's outcome and exit
code, and the commands of docs/rollouts.md run as written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shipyard import Registry
from shipyard.cli import main
from shipyard.rollouts import Check, RoutingKey
from shipyard.rollouts import service as rollouts
from shipyard.store.rollouts import RolloutRepository
from tests.models import classification_frame, tiny_classifier

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace with fraud v1, v2 and v3 (each with a contract), fraud@production on v1."""
    home = tmp_path / "ws"
    monkeypatch.setenv("SHIPYARD_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "200")
    frame, _ = classification_frame()
    with Registry(home=home) as registry:
        for seed in range(3):
            registry.register("fraud", tiny_classifier(seed), reference=frame)
        registry.set_alias("fraud", "production", 1)
    return home


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    capsys.readouterr()
    code = main([*args, "--json"])
    output = capsys.readouterr()
    assert code == 0, output.err
    return json.loads(output.out)


def failure(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(args))
    return code, capsys.readouterr().err


def test_start_from_flags_then_status_and_promote(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = run_json(
        capsys, "rollout", "start", "fraud", "--to", "2", "--steps", "10,50,100", "--interval", "5m",
        "--routing-key", "header:X-Customer-Id", "--reason", "v2 wins offline",
    )  # fmt: skip
    assert isinstance(started, dict)
    assert (started["state"], started["candidate_share"], started["steps_planned"]) == (
        "running",
        0.1,
        [10, 50, 100],
    )
    assert started["plan"]["interval"] == 300.0 and started["plan"]["routing_key"] == "header:X-Customer-Id"
    [active] = run_json(capsys, "rollout", "status")  # type: ignore[misc]
    assert active["id"] == started["id"]
    assert main(["rollout", "status"]) == 0
    table = capsys.readouterr().out
    assert "fraud@production" in table and "1/3" in table and "10%" in table
    promoted = run_json(capsys, "rollout", "promote", "fraud", "--reason", "canary is clean")
    assert isinstance(promoted, dict) and promoted["state"] == "promoted"
    with Registry(home=home) as registry:
        assert registry.resolve("fraud@production").version == 2
    assert run_json(capsys, "rollout", "status", "fraud") == []
    assert main(["rollout", "status", "fraud"]) == 0
    assert "no active rollout on fraud" in capsys.readouterr().out


def test_the_declared_plan_in_shipyard_toml_is_the_default_and_flags_override_it(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (home / "shipyard.toml").open("a", encoding="utf-8") as config:
        config.write('\n[rollouts.fraud]\nsteps = [20, 100]\ninterval = "1h"\nrouting_key = "column:a"\n')
    started = run_json(capsys, "rollout", "start", "fraud", "--to", "2", "--interval", "2m")
    assert isinstance(started, dict)
    assert started["steps_planned"] == [20, 100] and started["plan"]["interval"] == 120.0
    assert started["plan"]["routing_key"] == "column:a"
    run_json(capsys, "rollout", "abort", "fraud")
    shadow = run_json(capsys, "rollout", "start", "fraud", "--to", "3", "--strategy", "shadow")
    assert isinstance(shadow, dict) and shadow["steps_planned"] == [0] and shadow["shadow"] is True


def test_a_plan_file_gives_the_whole_plan(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text('to = 3\nstrategy = "blue_green"\nhold = "30m"\n', encoding="utf-8")
    started = run_json(capsys, "rollout", "start", "fraud", "--plan", str(plan))
    assert isinstance(started, dict)
    assert (started["candidate"], started["strategy"], started["candidate_share"]) == (3, "blue_green", 1.0)
    assert started["plan"]["hold"] == 1800.0
    sections = tmp_path / "plans.toml"
    sections.write_text("[rollouts.other]\nto = 1\n", encoding="utf-8")
    code, error = failure(capsys, "rollout", "start", "fraud", "--plan", str(sections))
    assert code == 7 and "has no [rollouts.fraud] table (plans for: other)" in error
    code, error = failure(capsys, "rollout", "start", "fraud", "--plan", str(tmp_path / "missing.toml"))
    assert code == 7 and "missing.toml' does not exist" in error


def test_bad_plans_and_refusals_are_one_line_errors_with_exit_codes(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (home / "shipyard.toml").open("a", encoding="utf-8") as config:
        config.write("\n[rollouts.fraud]\nstepz = [5, 100]\n")
    code, error = failure(capsys, "rollout", "start", "fraud", "--to", "2")
    assert code == 2
    assert (
        "[rollouts.fraud] in shipyard.toml with the options given: rollout plan has an unknown key 'stepz'"
        in error
    )
    assert "did you mean 'steps'?" in error and "Traceback" not in error
    (home / "shipyard.toml").write_text("", encoding="utf-8")
    code, error = failure(capsys, "rollout", "start", "fraud", "--to", "2", "--steps", "5,25")
    assert code == 2 and "canary steps must end at 100" in error
    code, error = failure(capsys, "rollout", "start", "fraud", "--to", "2", "--interval", "10 min")
    assert code == 2 and "interval is a number and a unit" in error
    code, error = failure(capsys, "rollout", "start", "fraud", "--to", "2", "--routing-key", "cookie:id")
    assert code == 2 and "routing key reads a header or a column" in error
    code, error = failure(capsys, "rollout", "start", "fraud")
    assert code == 2 and "names no candidate version" in error
    code, error = failure(capsys, "rollout", "start", "fraud", "--to", "9")
    assert code == 3 and "version 9" in error  # NotFound
    assert main(["rollout", "start", "fraud", "--to", "2"]) == 0
    code, error = failure(capsys, "rollout", "start", "fraud", "--to", "3")
    assert code == 4 and "already has rollout 1 to v2 (running)" in error  # Conflict
    code, error = failure(capsys, "rollout", "resume", "fraud")
    assert code == 4 and "is running, not paused" in error
    code, error = failure(capsys, "rollout", "pause", "fraud", "--alias", "staging")
    assert code == 3 and "fraud@staging has no active rollout" in error


def test_pause_resume_abort_and_history(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = run_json(capsys, "rollout", "start", "fraud", "--to", "2")
    assert isinstance(started, dict)
    assert run_json(capsys, "rollout", "pause", "fraud", "-r", "weekend")["state"] == "paused"  # type: ignore[index]
    assert run_json(capsys, "rollout", "resume", "fraud")["state"] == "running"  # type: ignore[index]
    with Registry(home=home) as registry:  # what the controller will record, once it exists
        RolloutRepository(registry.db, "controller").record_analysis(started["id"], 0, {"verdict": "pass"})
    capsys.readouterr()
    assert main(["rollout", "abort", "fraud", "--reason", "latency"]) == 0
    assert "of fraud@production aborted (latency): it stays on v1" in capsys.readouterr().out
    [past] = run_json(capsys, "rollout", "history", "fraud")  # type: ignore[misc]
    assert (past["state"], past["reason"], past["steps"][0]["analyses"][0]["verdict"]) == (
        "aborted",
        "latency",
        "pass",
    )
    assert main(["rollout", "history"]) == 0
    table = capsys.readouterr().out
    assert "aborted" in table and "5%" in table and "pass" in table
    with Registry(home=home) as registry:
        actions = [event.action for event in registry.audit(action="rollout.")]
    assert actions == ["rollout.start", "rollout.pause", "rollout.resume", "rollout.abort"]


def test_changing_commands_name_the_workspace_they_change(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["rollout", "start", "fraud", "--to", "2"]) == 0
    assert f"workspace: {home}" in capsys.readouterr().err
    assert main(["rollout", "status"]) == 0
    assert "workspace:" not in capsys.readouterr().err


@pytest.mark.slow
def test_the_commands_in_docs_rollouts_run_as_written(home: Path) -> None:
    text = (DOCS / "rollouts.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(bash|python|toml)\n(.*?)```", text, flags=re.DOTALL)
    assert [language for language, _ in blocks] == ["toml", "bash", "bash", "python"]
    with (home / "shipyard.toml").open("a", encoding="utf-8") as config:
        config.write("\n" + blocks[0][1])
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    outputs = []
    for language, block in blocks[1:]:
        script = f"python - <<'PYTHON'\n{block}PYTHON" if language == "python" else block
        done = subprocess.run(
            ["bash", "-c", f"set -euo pipefail\n{script}"],
            cwd=home.parent,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"{block}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        outputs.append(done.stdout)
    assert "rollout.promote" in outputs[1] and "Split(rollout_id=3, stable=3, candidate=2" in outputs[2]
    with Registry(home=home) as registry:
        first = next(r for r in rollouts.history(registry, "fraud") if r.id == 1)
    assert first.plan.check("latency_p99") == Check(
        "latency_p99", 1.2, failure_limit=2
    )  # from the toml block
    assert first.plan.routing_key == RoutingKey("header", "X-Customer-Id")
