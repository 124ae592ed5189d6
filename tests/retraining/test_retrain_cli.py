"""``shipyard retrain run`` and ``shipyard retrain history`` on a real workspace: a run that rolls its
challenger out, its record, a run that fails (exit 1), and a model without a policy."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shipyard import Registry
from shipyard.cli import main
from shipyard.store.feedback import FeedbackRepository, NewLabel
from tests.retraining.workspace import champion_workspace

POLICY = """
[retraining.fraud]
spec = "spec.toml"
window = "30d"
data = { source = "dataset", name = "fresh", time_column = "ts" }
rollout = { strategy = "canary", steps = [20, 100], interval = "10m" }
guards = { min_rows = 100, cooldown = "0s" }
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """fraud/1 (trained on labels without signal) at fraud@production, fresh data up to now, a policy."""
    home = tmp_path / "ws"
    monkeypatch.setenv("SHIPYARD_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "250")
    return champion_workspace(home, POLICY, now=datetime.now(UTC))


def test_a_run_on_demand_starts_a_rollout_and_history_shows_it(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["retrain", "run", "fraud"]) == 0
    said = capsys.readouterr()
    assert "retraining run 1 of fraud: succeeded at step rollout" in said.out and "rollout 1" in said.out
    assert "workspace:" in said.err
    assert main(["retrain", "history", "fraud", "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)
    assert (run["trigger"], run["state"], run["details"]["candidate"], run["details"]["rollout"]) == (
        "manual",
        "succeeded",
        "fraud/2",
        1,
    )
    assert main(["retrain", "history"]) == 0
    table = capsys.readouterr().out
    assert "fraud-retrain/1" in table and "fraud/2" in table and "succeeded" in table


def test_a_failed_run_exits_1_and_says_which_step(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (home / "shipyard.toml").write_text(POLICY.replace("min_rows = 100", "min_rows = 5000"), encoding="utf-8")
    assert main(["retrain", "run", "fraud"]) == 1
    assert "failed at step data: data failed" in capsys.readouterr().out


def test_a_model_without_a_policy_is_named(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["retrain", "run", "frud"]) != 0
    assert "retraining policy for model 'frud' not found" in capsys.readouterr().err


def test_watch_runs_the_policy_when_its_labels_trigger_comes_due(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labelled = POLICY + "triggers = { new_labels = 3 }\n"
    (home / "shipyard.toml").write_text(labelled, encoding="utf-8")
    assert main(["retrain", "watch", "--once"]) == 0
    assert "no retraining trigger is due" in capsys.readouterr().out
    with Registry(home=home) as registry:
        labels = {f"id-{n}": NewLabel("fraud", 1, datetime.now(UTC), "1") for n in range(3)}
        FeedbackRepository(registry.db).store(labels, source="test", received_at=datetime.now(UTC))
    assert main(["retrain", "watch", "--once", "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)
    assert (run["trigger"], run["trigger_detail"], run["state"]) == (
        "labels",
        {"new_labels": 3, "threshold": 3},
        "succeeded",
    )
    assert main(["retrain", "watch", "--once"]) == 0  # those labels were acted on
    assert "no retraining trigger is due" in capsys.readouterr().out
