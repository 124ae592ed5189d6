"""An alert rule's retrain action on a model with a retraining policy: the policy runs (fresh data, train,
gate, roll out) in a process of its own, recorded with the alert as its trigger; an alert that the policy's
triggers also name trains once; and ``shipyard retrain run --trigger alert --rule`` that the action uses."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shipyard import Registry
from shipyard.alerts import AlertEvaluator, alert_history, load_alerts
from shipyard.alerts.actions import run_action
from shipyard.cli import main
from shipyard.retrain_runner import RetrainRunner, RetrainRunnerConfig
from shipyard.store.retrain_runs import RetrainRunRecord, RetrainRunRepository
from tests.alerts.conftest import record_window
from tests.retraining.workspace import champion_workspace

POLICY = """
[retraining.fraud]
spec = "spec.toml"
window = "30d"
data = { source = "dataset", name = "fresh", time_column = "ts" }
rollout = { strategy = "canary", steps = [20, 100], interval = "10m" }
guards = { min_rows = 100, cooldown = "1h" }
"""
NAMED_BY_THE_POLICY = 'triggers = { alerts = ["slow"] }\n'
ALERT_RULE = """
[alerts.defaults]
enabled = false
[[alerts.rules]]
name = "slow"
model = "fraud@production"
figure = "health.latency_p99_ms"
above = 100
actions = [{ type = "retrain" }]
"""
#: A run trains in a subprocess that imports shipyard first; generous for a loaded CI machine.
WAIT_SECONDS = 180


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """fraud/1 (trained on labels without signal) at fraud@production, fresh data up to now, the policy
    and the alert rule in shipyard.toml."""
    home = tmp_path / "ws"
    monkeypatch.setenv("SHIPYARD_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "250")
    return champion_workspace(home, POLICY + ALERT_RULE, now=datetime.now(UTC))


@pytest.fixture
def registry(home: Path) -> Iterator[Registry]:
    with Registry(home=home) as registry:
        yield registry


def fire(registry: Registry, *, act: bool = True) -> tuple[int, list[tuple[str, str]], datetime]:
    """Make rule ``slow`` fire on fraud/1 now (its actions run unless ``act`` is false): the alert event's
    id, the actions' (status, detail), and when."""
    now = datetime.now(UTC)
    record_window(registry, now - timedelta(minutes=5), version=1, health={"latency_p99_ms": 900.0})
    config = load_alerts(registry.settings, registry)
    if not act:
        config = replace(config, rules=[replace(rule, actions=()) for rule in config.rules])
    [fired] = AlertEvaluator(registry, config).evaluate(now)
    assert fired.after == "firing" and fired.event_id is not None
    return fired.event_id, [(action.status, action.detail) for action in fired.actions], now


def runs(registry: Registry) -> list[RetrainRunRecord]:
    return RetrainRunRepository(registry.db, "tester").history("fraud")


def wait_for(registry: Registry, done: Callable[[list[RetrainRunRecord]], bool]) -> list[RetrainRunRecord]:
    """The runs once ``done`` holds for them; the jobs' output in the failure when it never does."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = runs(registry)
        if done(found):
            return found
        time.sleep(0.3)
    output = "\n".join(log.read_text()[-3000:] for log in (registry.settings.home / "jobs").glob("*.log"))
    raise AssertionError(f"runs never got there: {runs(registry)}\njob output:\n{output}")


def ended(found: list[RetrainRunRecord]) -> bool:
    return bool(found) and all(run.state != "running" for run in found)


def trained(found: list[RetrainRunRecord]) -> list[RetrainRunRecord]:
    return [run for run in found if "candidate" in run.details]


def test_a_retrain_action_runs_the_policy_and_the_history_names_the_alert(
    registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    event, [(status, detail)], _ = fire(registry)
    assert status == "done", detail
    assert "shipyard retrain run fraud --trigger alert --rule slow" in detail and "jobs" in detail
    [run] = wait_for(registry, ended)
    assert run.state == "succeeded", run.reason
    assert (run.trigger, run.trigger_detail) == ("alert", {"rule": "slow", "event": event})
    assert run.details["candidate"] == "fraud/2" and run.details["gate"]["passed"] is True
    assert "rollout" in run.details  # the policy's then = "rollout" (the default) started it
    [recorded] = alert_history(registry, rule="slow")[0]["actions"]
    assert recorded["action"] == "retrain" and recorded["status"] == "done"

    assert main(["retrain", "history", "fraud"]) == 0
    assert "alert slow" in capsys.readouterr().out


def test_an_alert_the_policy_also_names_trains_once_when_the_action_starts_first(
    home: Path, registry: Registry
) -> None:
    (home / "shipyard.toml").write_text(POLICY + NAMED_BY_THE_POLICY + ALERT_RULE, encoding="utf-8")
    _, [(status, _)], now = fire(registry)
    assert status == "done"
    wait_for(registry, bool)  # the action's run is recorded
    watcher = RetrainRunner(registry.settings, RetrainRunnerConfig(since=now - timedelta(minutes=1)))
    assert watcher.run_once() == []  # the alert fired before that run began: nothing is due
    found = wait_for(registry, ended)
    assert watcher.run_once() == []
    assert len(trained(found)) == 1 and [run.state for run in found] == ["succeeded"]
    assert len(registry.list_versions("fraud")) == 2


def test_an_alert_the_policy_also_names_trains_once_when_the_watcher_starts_first(
    home: Path, registry: Registry
) -> None:
    (home / "shipyard.toml").write_text(POLICY + NAMED_BY_THE_POLICY + ALERT_RULE, encoding="utf-8")
    event, _, now = fire(registry, act=False)
    watcher = RetrainRunner(registry.settings, RetrainRunnerConfig(since=now - timedelta(minutes=1)))
    [first] = watcher.run_once()
    assert (first.state, first.trigger, first.trigger_detail["event"]) == ("succeeded", "alert", event)

    # The rule's action, after the watcher: the run for its event is found, and no process starts.
    [rule] = load_alerts(registry.settings, registry).rules
    reason = "alert slow fired"
    again = run_action(registry, rule.actions[0], rule, "fraud", 1, reason, now, event)
    assert again.status == "skipped" and f"run {first.id} of fraud was started for this alert" in again.detail
    # Without the event to match, the process starts, and the run store holds it back (the cooldown).
    started = run_action(registry, rule.actions[0], rule, "fraud", 1, reason, now)
    assert started.status == "done", started.detail
    found = wait_for(registry, lambda found: len(found) == 2)
    assert found[0].state == "skipped" and "cooldown" in found[0].reason
    assert [run.id for run in trained(found)] == [first.id] and len(registry.list_versions("fraud")) == 2


def test_retrain_run_records_the_alert_it_is_given(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["retrain", "run", "fraud", "--trigger", "alert", "--rule", "slow", "--event", "4", "--json"]
    assert main(argv) == 0
    run = json.loads(capsys.readouterr().out)
    assert (run["trigger"], run["trigger_detail"], run["state"]) == (
        "alert",
        {"rule": "slow", "event": 4},
        "succeeded",
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--trigger", "alert"], "--trigger alert needs --rule NAME"),
        (["--rule", "slow"], "--rule and --event name the alert that started a run; add --trigger alert"),
        (["--trigger", "schedule"], "--trigger is manual or alert, not 'schedule'"),
    ],
)
def test_retrain_run_refuses_trigger_options_that_do_not_fit(
    home: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    assert main(["retrain", "run", "fraud", *options]) != 0
    assert message in capsys.readouterr().err
    with Registry(home=home) as registry:
        assert runs(registry) == []
