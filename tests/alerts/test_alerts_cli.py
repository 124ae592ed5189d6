"""``shipyard alerts``: rules, evaluate, list, history, silences and test notifications from the shell."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shipyard import Registry
from shipyard.cli import main
from shipyard.config import CONFIG_FILE
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
    assert rules[0]["condition"] == "value > 100" and rules[1]["default"] is True
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
    assert "unknown figure 'latency'" in error and "health.latency_p99_ms" in error
