"""Actions of firing alerts: a rollback audited with its alert, a cooldown against storms, retraining."""

from __future__ import annotations

import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest

from shipyard import Registry
from shipyard.alerts import AlertEvaluator, alert_history, load_alerts
from shipyard.config import CONFIG_FILE
from shipyard.errors import ConfigurationError
from tests.alerts.conftest import T0, record_window, register_fraud
from tests.models import transactions

MINUTE = timedelta(minutes=1)

ROLLBACK_RULE = """
[alerts.defaults]
enabled = false
[[alerts.rules]]
name = "slow"
model = "fraud@production"
figure = "health.latency_p99_ms"
above = 100
actions = [{ type = "rollback" }]
cooldown = "2h"
"""


def test_a_firing_alert_rolls_the_alias_back_once_and_the_audit_says_why(registry: Registry) -> None:
    register_fraud(registry, versions=3)  # production: 1 → 2 → 3
    (registry.settings.home / CONFIG_FILE).write_text(ROLLBACK_RULE, encoding="utf-8")
    evaluator = AlertEvaluator(registry, load_alerts(registry.settings, registry))

    record_window(registry, T0, version=3, health={"latency_p99_ms": 900.0})
    [fired] = evaluator.evaluate(T0 + MINUTE)
    assert [(a.action, a.status) for a in fired.actions] == [("rollback", "done")]
    assert fired.actions[0].detail == "fraud@production: version 3 → 2"
    assert registry.resolve("fraud@production").version == 2
    [audit] = [event for event in registry.audit(model="fraud") if "alert slow fired" in event.reason]
    assert "fraud/3 health.latency_p99_ms = 900" in audit.reason

    # Version 2 is slow too: its alert fires, but the cooldown holds the second rollback back.
    record_window(registry, T0, version=2, health={"latency_p99_ms": 800.0})
    outcomes = {o.version: o for o in evaluator.evaluate(T0 + 10 * MINUTE)}
    assert outcomes[3].after == "resolved"  # production no longer points at it: its alert ends
    again = outcomes[2]
    assert again.after == "firing"
    [(action, status, detail)] = [(a.action, a.status, a.detail) for a in again.actions]
    assert (action, status) == ("rollback", "skipped") and detail.startswith("cooldown:")
    assert registry.resolve("fraud@production").version == 2
    [recorded] = [e["actions"] for e in alert_history(registry, rule="slow") if e["version"] == 2]
    assert recorded == [{"action": "rollback", "status": "skipped", "detail": detail}]


def test_a_rollback_moves_nothing_when_the_alias_no_longer_points_at_the_version(registry: Registry) -> None:
    register_fraud(registry, versions=3)
    registry.set_alias("fraud", "production", 2)
    every_version = ROLLBACK_RULE.replace('"fraud@production"', '"fraud"').replace(
        '{ type = "rollback" }', '{ type = "rollback", alias = "production" }'
    )
    (registry.settings.home / CONFIG_FILE).write_text(every_version, encoding="utf-8")
    record_window(registry, T0, version=3, health={"latency_p99_ms": 900.0})
    [fired] = AlertEvaluator(registry, load_alerts(registry.settings, registry)).evaluate(T0 + MINUTE)
    [skipped] = fired.actions
    assert skipped.status == "skipped" and "points at version 2 now, not 3" in skipped.detail
    assert registry.resolve("fraud@production").version == 2


@pytest.mark.slow
def test_a_retrain_action_starts_a_training_job_that_registers_a_version(workspace: Path) -> None:
    transactions(rows=300).to_csv(workspace / "tx.csv", index=False)
    (workspace / "train.toml").write_text(
        textwrap.dedent(
            """
            model = "fraud"
            [data]
            path = "tx.csv"
            target = "fraud"
            exclude = ["day", "customer"]
            [estimator]
            class = "sklearn.linear_model.LogisticRegression"
            [cv]
            folds = 2
            """
        )
    )
    (workspace / CONFIG_FILE).write_text(
        ROLLBACK_RULE.replace('{ type = "rollback" }', '{ type = "retrain", spec = "train.toml" }')
    )
    with Registry(home=workspace) as registry:
        register_fraud(registry)
        record_window(registry, T0, version=2, health={"latency_p99_ms": 900.0})
        [fired] = AlertEvaluator(registry, load_alerts(registry.settings, registry)).evaluate(T0 + MINUTE)
        [started] = fired.actions
        assert started.status == "done" and started.detail.startswith("started process")
        assert "shipyard train train.toml" in started.detail
        assert "the new version is only registered: add a [retraining.fraud] policy" in started.detail
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(registry.list_versions("fraud")) < 3:
            time.sleep(0.5)
        versions = registry.list_versions("fraud")
    assert len(versions) == 3, sorted((workspace / "jobs").glob("*.log"))[0].read_text()[-2000:]
    with Registry(home=workspace) as registry:
        newest = registry.audit(model="fraud")[-1]
    assert newest.reason.startswith("alert slow fired")


RETRAIN_WITHOUT_SPEC = ROLLBACK_RULE.replace('{ type = "rollback" }', '{ type = "retrain" }')


def test_a_retrain_action_with_neither_a_policy_nor_a_spec_is_refused_when_loaded(registry: Registry) -> None:
    register_fraud(registry)
    (registry.settings.home / CONFIG_FILE).write_text(RETRAIN_WITHOUT_SPEC, encoding="utf-8")
    with pytest.raises(ConfigurationError) as refused:
        load_alerts(registry.settings, registry)
    message = str(refused.value)
    assert "alert rule 'slow'" in message and "fraud has no retraining policy" in message
    assert "add a [retraining.fraud] policy to shipyard.toml" in message
    assert "or give the action spec = 'train.toml' (the new version is only registered)" in message

    every_model = RETRAIN_WITHOUT_SPEC.replace('"fraud@production"', '"*"')
    (registry.settings.home / CONFIG_FILE).write_text(every_model, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"add a \[retraining.<model>\] policy"):
        load_alerts(registry.settings, registry)


def test_a_retrain_action_on_every_model_fails_for_a_model_without_a_policy(registry: Registry) -> None:
    """Another model's policy lets a rule on ``*`` load; the model that fired has none, so nothing starts."""
    register_fraud(registry)
    other = '[retraining.churn]\nspec = "churn.toml"\ndata = { source = "log" }\n'
    every_model = RETRAIN_WITHOUT_SPEC.replace('"fraud@production"', '"*"')
    (registry.settings.home / CONFIG_FILE).write_text(other + every_model, encoding="utf-8")
    record_window(registry, T0, version=2, health={"latency_p99_ms": 900.0})
    [fired] = AlertEvaluator(registry, load_alerts(registry.settings, registry)).evaluate(T0 + MINUTE)
    [failed] = fired.actions
    assert failed.status == "failed"
    assert failed.detail.startswith("fraud has no retraining policy and the action no spec: add a [retrain")
    assert not (registry.settings.home / "jobs").exists()


def test_one_incident_firing_two_rules_rolls_back_once(registry: Registry) -> None:
    register_fraud(registry, versions=3)
    both = ROLLBACK_RULE + ROLLBACK_RULE.split("[[alerts.rules]]", 1)[1].join(
        ["[[alerts.rules]]", ""]
    ).replace('"slow"', '"failing"').replace("health.latency_p99_ms", "health.error_rate").replace(
        "above = 100", "above = 0.1"
    )
    (registry.settings.home / CONFIG_FILE).write_text(both, encoding="utf-8")
    record_window(registry, T0, version=3, health={"latency_p99_ms": 900.0, "error_rate": 0.4})
    fired = AlertEvaluator(registry, load_alerts(registry.settings, registry)).evaluate(T0 + MINUTE)
    statuses = sorted((o.rule, a.status) for o in fired for a in o.actions)
    assert statuses == [("failing", "skipped"), ("slow", "done")]
    assert registry.resolve("fraud@production").version == 2  # not 1
