"""``shipyard alerts``: rules, evaluate, list, history, silences and test notifications from the shell."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shipyard import Registry
from shipyard.alerts import add_rule, load_alerts, remove_rule
from shipyard.cli import main
from shipyard.config import CONFIG_FILE
from shipyard.errors import ConfigurationError
from tests.alerts.conftest import WebhookReceiver, hook_channel, record_window, register_fraud


@pytest.fixture
def home(workspace: Path, monkeypatch: pytest.MonkeyPatch, webhook: WebhookReceiver) -> Path:
    monkeypatch.setenv("SHIPYARD_HOME", str(workspace))
    monkeypatch.setenv("COLUMNS", "250")
    with Registry(home=workspace) as registry:
        register_fraud(registry)
        this_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        record_window(registry, this_hour, version=2, health={"latency_p99_ms": 700.0, "error_rate": 0.0})
    (workspace / CONFIG_FILE).write_text(
        hook_channel(webhook)
        + """
[[alerts.rules]]
name = "slow"
model = "fraud@production"
figure = "health.latency_p99_ms"
above = 100
labels = { team = "risk" }
""",
        encoding="utf-8",
    )
    return workspace


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_rules_evaluate_list_and_history(
    home: Path, webhook: WebhookReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = run_json(capsys, "alerts", "rules", "--serve", "fraud@production")
    assert [rule["name"] for rule in rules] == [
        "slow", "fraud:error-rate", "fraud:latency-p99", "fraud:dataset-drift", "fraud:accuracy-drop"
    ]  # fmt: skip
    assert rules[0]["condition"] == "value > 100" and rules[1]["source"] == "defaults"
    assert main(["alerts", "rules"]) == 0 and "slow" in capsys.readouterr().out

    outcomes = run_json(capsys, "alerts", "evaluate", "--serve", "fraud@production", "--at", "now")
    by_rule = {outcome["rule"]: outcome for outcome in outcomes}
    assert set(by_rule) == {"slow", "fraud:latency-p99"}  # 700 ms is over the default 500 ms too
    assert by_rule["slow"]["after"] == "firing" and by_rule["fraud:latency-p99"]["after"] == "pending"
    assert by_rule["slow"]["deliveries"][0]["delivered"] and len(webhook.received) == 1

    assert main(["alerts", "list"]) == 0
    listed = capsys.readouterr().out
    assert "firing" in listed and "fraud/2" in listed and "pending" in listed
    history = run_json(capsys, "alerts", "history", "--rule", "slow")
    assert [event["kind"] for event in history] == ["firing"]
    assert main(["alerts", "history"]) == 0 and "hook ok" in capsys.readouterr().out
    assert "health.error_rate" in [f["figure"] for f in run_json(capsys, "alerts", "figures")]


def test_silences_from_the_shell(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    created = run_json(
        capsys, "alerts", "silence", "--rule", "slow", "--label", "team=risk", "--for", "2h", "-m", "deploy"
    )
    assert created["matchers"] == {"rule": "slow", "labels": {"team": "risk"}}
    assert [s["id"] for s in run_json(capsys, "alerts", "silences")] == [created["id"]]
    outcomes = run_json(capsys, "alerts", "evaluate")
    assert outcomes[0]["silenced_by"] == created["id"] and outcomes[0]["deliveries"] == []
    assert main(["alerts", "unsilence", str(created["id"])]) == 0
    assert run_json(capsys, "alerts", "silences") == []
    assert main(["alerts", "unsilence", "999"]) == 3
    assert main(["alerts", "silence", "--for", "1h"]) == 2  # matches nothing: refused
    assert main(["alerts", "silence", "--label", "team", "--for", "1h"]) == 2
    assert "key=value" in capsys.readouterr().err


def test_test_notifications_report_each_channel_and_fail_when_one_is_down(
    home: Path, webhook: WebhookReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    results = run_json(capsys, "alerts", "test")
    assert [(r["channel"], r["delivered"]) for r in results] == [("log", True), ("hook", True)]
    assert webhook.received[0].json()["status"] == "test"
    webhook.behaviour = "fail"
    assert main(["alerts", "test", "--channel", "hook"]) == 1
    assert "HTTP 500" in capsys.readouterr().out
    assert main(["alerts", "test", "--channel", "pager"]) == 3


def test_a_broken_rule_is_reported_with_what_exists(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = home / CONFIG_FILE
    config.write_text(config.read_text().replace("health.latency_p99_ms", "latency"), encoding="utf-8")
    assert main(["alerts", "rules"]) == 7
    error = capsys.readouterr().err
    assert "figure 'latency' not found; did you mean 'health.latency_p50_ms'" in error
    assert "health.latency_p99_ms" in error and "request_rate" not in error


def test_rules_added_from_the_shell_are_kept_in_the_database_and_checked(
    home: Path, webhook: WebhookReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    added = run_json(
        capsys, "alerts", "add", "busy", "--figure", "health.request_rate", "--model", "fraud@production",
        "--above", "0.5", "--for", "5m", "--label", "team=ops", "--channel", "hook", "--action", "rollback",
    )  # fmt: skip
    assert added["source"] == "added" and added["condition"] == "value > 0.5" and added["for"] == "5m"
    assert added["actions"] == [{"type": "rollback"}] and added["labels"] == {"team": "ops"}
    with Registry(home=home) as registry:
        [busy] = [rule for rule in load_alerts(registry.settings, registry).rules if rule.name == "busy"]
    assert busy.channels == ("hook",) and busy.severity == "warning"

    assert main(["alerts", "add", "busy", "-f", "health.request_rate", "--above", "1"]) == 4  # exists
    assert main(["alerts", "add", "busy", "-f", "health.request_rate", "--above", "1", "--replace"]) == 0
    assert main(["alerts", "add", "slow", "-f", "health.error_rate", "--above", "1"]) == 7  # in the TOML
    assert "declared in shipyard.toml" in capsys.readouterr().err
    assert main(["alerts", "add", "bad", "-f", "health.p99", "--above", "1"]) == 7
    error = capsys.readouterr().err  # the closest names, not all 68
    assert "did you mean 'health.latency_p99_ms', 'health.processes'?" in error and "rows" not in error
    assert main(["alerts", "add", "bad", "-f", "health.error_rate"]) == 7
    assert "one condition" in capsys.readouterr().err
    assert main(["alerts", "add", "bad", "-f", "health.error_rate", "--above", "1", "--action", "page"]) == 2
    capsys.readouterr()
    # A bare retrain action runs the model's retraining policy, which this workspace does not declare.
    retrain = ["-f", "health.error_rate", "--model", "fraud@production", "--above", "1"]
    retrain += ["--action", "retrain"]
    assert main(["alerts", "add", "retrain", *retrain]) != 0
    assert "fraud has no retraining policy for its retrain action to run" in capsys.readouterr().err

    assert main(["alerts", "remove", "busy"]) == 0
    assert main(["alerts", "remove", "busy"]) == 3
    assert main(["alerts", "remove", "slow"]) == 3  # declared in the file: edited there
    assert "editing the file" in capsys.readouterr().err


def test_an_added_rule_that_clashes_with_a_later_toml_edit_is_named(home: Path) -> None:
    with Registry(home=home) as registry:
        add_rule(registry, {"name": "errors", "figure": "health.error_rate", "above": 0.1})
        config = home / CONFIG_FILE
        config.write_text(
            config.read_text()
            + '[[alerts.rules]]\nname = "errors"\nfigure = "health.error_rate"\nabove = 0.2\n'
        )
        with pytest.raises(ConfigurationError, match="'shipyard alerts remove errors' removes the added one"):
            load_alerts(registry.settings, registry)
        remove_rule(registry, "errors")
        assert [r.name for r in load_alerts(registry.settings, registry).rules] == ["slow", "errors"]
