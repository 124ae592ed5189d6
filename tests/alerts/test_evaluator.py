"""Alert states over the monitored series: pending → firing → resolved, repeats, silences, restarts.

Runs on SQLite and PostgreSQL (the ``registry`` fixture): alert state lives in the metadata database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from shipyard import Registry
from shipyard.alerts import AlertEvaluator, alert_history, current_alerts, load_alerts, silence
from shipyard.config import CONFIG_FILE
from shipyard.monitor_runner import MonitorRunner, RunnerConfig
from shipyard.store.schema import AlertDeliveryRow
from tests.alerts.conftest import HOUR, T0, WebhookReceiver, hook_channel, record_window, register_fraud

MINUTE = timedelta(minutes=1)


def write_rules(registry: Registry, text: str) -> None:
    (registry.settings.home / CONFIG_FILE).write_text(text, encoding="utf-8")


def p99_rule(webhook: WebhookReceiver, extra: str = "") -> str:
    return (
        hook_channel(webhook)
        + f"""
[alerts.defaults]
enabled = false
[[alerts.rules]]
name = "slow"
model = "fraud@production"
figure = "health.latency_p99_ms"
above = 100
for = "10m"
repeat = "1h"
severity = "critical"
labels = {{ team = "risk" }}
{extra}
"""
    )


def test_an_alert_goes_pending_fires_once_repeats_and_resolves(
    registry: Registry, webhook: WebhookReceiver
) -> None:
    register_fraud(registry)
    write_rules(registry, p99_rule(webhook))
    evaluator = AlertEvaluator(registry, load_alerts(registry.settings, registry))

    record_window(registry, T0, version=2, health={"latency_p99_ms": 40.0})
    assert evaluator.evaluate(T0 + 5 * MINUTE) == []  # inactive: nothing to say

    record_window(registry, T0, version=2, health={"latency_p99_ms": 250.0})
    [pending] = evaluator.evaluate(T0 + 6 * MINUTE)
    assert (pending.before, pending.after, pending.value, pending.model, pending.version) == (
        "inactive", "pending", 250.0, "fraud", 2
    )  # fmt: skip
    assert webhook.received == []  # pending notifies nobody
    assert evaluator.evaluate(T0 + 10 * MINUTE) == []  # still pending: held 4 of 10 minutes
    [firing] = evaluator.evaluate(T0 + 16 * MINUTE)
    assert firing.after == "firing" and [d.delivered for d in firing.deliveries] == [True]
    payload = webhook.received[0].json()
    assert payload["status"] == "firing" and payload["alert"]["rule"] == "slow"
    assert payload["alert"]["value"] == 250.0 and payload["alert"]["labels"] == {"team": "risk"}
    assert "fraud/2 health.latency_p99_ms = 250" in payload["summary"]

    assert evaluator.evaluate(T0 + 30 * MINUTE) == []  # deduplicated: firing, told once
    assert len(webhook.received) == 1
    [repeat] = evaluator.evaluate(T0 + 77 * MINUTE)  # the next hour's window is not in yet: still firing
    assert repeat.event == "repeat" and len(webhook.received) == 2

    record_window(registry, T0 + HOUR, version=2, health={"latency_p99_ms": 30.0})
    [resolved] = evaluator.evaluate(T0 + HOUR + 20 * MINUTE)
    assert (resolved.before, resolved.after) == ("firing", "resolved")
    assert webhook.received[-1].json()["status"] == "resolved" and len(webhook.received) == 3

    history = [event["kind"] for event in alert_history(registry, rule="slow")]
    assert history == ["resolved", "repeat", "firing", "pending"]  # newest first
    [state] = current_alerts(registry, include_inactive=True)
    assert state["state"] == "resolved" and state["severity"] == "critical"


def test_a_restart_keeps_a_firing_alert_and_the_silences_without_sending_anything_again(
    registry: Registry, webhook: WebhookReceiver
) -> None:
    register_fraud(registry)
    write_rules(
        registry,
        p99_rule(webhook).replace('for = "10m"', 'for = "0s"')
        + '[[alerts.rules]]\nname = "errors"\nfigure = "health.error_rate"\nabove = 0.1\n',
    )
    record_window(registry, T0, version=2, health={"latency_p99_ms": 500.0})
    held = silence(registry, {"rule": "errors"}, T0, T0 + 2 * HOUR)
    [fired] = AlertEvaluator(registry, load_alerts(registry.settings, registry)).evaluate(T0 + MINUTE)
    assert fired.after == "firing" and len(webhook.received) == 1

    with Registry(home=registry.settings.home, registry_url=registry.settings.registry_url) as restarted:
        evaluator = AlertEvaluator(restarted, load_alerts(restarted.settings, restarted))
        assert evaluator.evaluate(T0 + 2 * MINUTE) == []
        assert [a["state"] for a in current_alerts(restarted)] == ["firing"]
        record_window(restarted, T0, version=2, health={"latency_p99_ms": 500.0, "error_rate": 0.5})
        [errors] = evaluator.evaluate(T0 + 3 * MINUTE)
        assert (errors.rule, errors.after, errors.silenced_by) == ("errors", "firing", held.id)
    assert len(webhook.received) == 1


def test_a_silence_holds_back_notifications_until_it_expires(
    registry: Registry, webhook: WebhookReceiver
) -> None:
    register_fraud(registry)
    write_rules(registry, p99_rule(webhook).replace('for = "10m"', 'for = "0s"'))
    evaluator = AlertEvaluator(registry, load_alerts(registry.settings, registry))
    record_window(registry, T0, version=2, health={"latency_p99_ms": 500.0})
    held = silence(registry, {"labels": {"team": "risk"}}, T0, T0 + 30 * MINUTE, comment="deploying")
    [fired] = evaluator.evaluate(T0 + MINUTE)
    assert fired.after == "firing" and fired.silenced_by == held.id and webhook.received == []
    assert evaluator.evaluate(T0 + 20 * MINUTE) == []
    [told] = evaluator.evaluate(T0 + 31 * MINUTE)  # the silence is over and nobody was told yet
    assert told.event == "repeat" and len(webhook.received) == 1
    other = silence(registry, {"rule": "another"}, T0, T0 + 2 * HOUR)
    assert other.id != held.id


def test_a_change_relative_to_a_baseline_and_every_column_of_a_figure(
    registry: Registry, webhook: WebhookReceiver
) -> None:
    register_fraud(registry)
    write_rules(
        registry,
        p99_rule(webhook)
        + """
[[alerts.rules]]
name = "accuracy-drop"
model = "fraud"
figure = "accuracy.accuracy"
below = -0.1
relative_to = "3h"
[[alerts.rules]]
name = "missing"
model = "fraud@production"
figure = "quality.missing_rate"
column = "*"
above = 0.2
""",
    )
    evaluator = AlertEvaluator(registry, load_alerts(registry.settings, registry))
    for hour, accuracy in enumerate([0.90, 0.86, 0.88]):
        record_window(registry, T0 + hour * HOUR, version=2, accuracy={"accuracy": accuracy})
    record_window(
        registry, T0 + 3 * HOUR, version=2, accuracy={"accuracy": 0.70}, missing={"amount": 0.5, "hour": 0.0}
    )
    outcomes = {(o.rule, o.column): o for o in evaluator.evaluate(T0 + 3 * HOUR + 5 * MINUTE)}
    assert set(outcomes) == {("accuracy-drop", ""), ("missing", "amount")}  # hour is fine
    assert outcomes["accuracy-drop", ""].after == "firing"
    payload = next(r.json() for r in webhook.received if r.json()["alert"]["rule"] == "accuracy-drop")
    assert payload["alert"]["baseline"] == pytest.approx(0.88) and payload["alert"]["value"] == 0.70

    # Windows older than two lengths are no data: the alerts resolve rather than fire forever.
    outcomes = {o.rule: o for o in evaluator.evaluate(T0 + 6 * HOUR)}
    assert outcomes["accuracy-drop"].after == "resolved" and outcomes["missing"].after == "resolved"


def test_a_receiver_that_fails_is_retried_and_recorded_while_the_others_get_it(
    registry: Registry, webhook: WebhookReceiver, tmp_path: Path
) -> None:
    register_fraud(registry)
    rules = p99_rule(webhook).replace('for = "10m"', 'for = "0s"')
    rules = rules.replace('default_channels = ["hook"]', 'default_channels = ["hook", "log"]')
    write_rules(registry, rules.replace("backoff = 0", "backoff = 0\nattempts = 3"))
    webhook.behaviour = "fail"
    record_window(registry, T0, version=2, health={"latency_p99_ms": 500.0})
    [fired] = AlertEvaluator(registry, load_alerts(registry.settings, registry)).evaluate(T0 + MINUTE)
    hook, logged = fired.deliveries
    assert (hook.channel, hook.delivered, hook.attempts, hook.error) == (
        "hook",
        False,
        3,
        "HTTP 500 Internal Server Error",
    )
    assert (logged.channel, logged.delivered) == ("log", True)
    assert len(webhook.received) == 3
    with registry.db.reading() as session:
        rows = session.execute(select(AlertDeliveryRow)).scalars()
        stored = {row.channel: (row.delivered, row.attempts) for row in rows}
    assert stored == {"hook": (False, 3), "log": (True, 1)}
    assert [d["channel"] for d in alert_history(registry, rule="slow")[0]["deliveries"]] == ["hook", "log"]


def test_the_monitoring_runner_evaluates_the_rules_and_survives_a_broken_edit(
    workspace: Path, webhook: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with Registry(home=workspace) as registry:
        register_fraud(registry)
        record_window(registry, today, version=2, window=timedelta(days=1), health={"latency_p99_ms": 900.0})
        rules = p99_rule(webhook).replace('for = "10m"', 'window = "1d"')
        write_rules(registry, rules)
        runner = MonitorRunner(registry.settings, RunnerConfig(["fraud@production"], 3600, 60.0))
    runner.run_once(now)
    write_rules(registry, rules.replace("health.latency_p99_ms", "health.latency"))
    runner.run_once(now + timedelta(minutes=1))
    assert "the alert rules could not be loaded" in caplog.text
    assert "figure 'health.latency' not found" in caplog.text
    with Registry(home=workspace) as registry:
        assert [(a["rule"], a["state"]) for a in current_alerts(registry)] == [("slow", "firing")]
    assert len(webhook.received) == 1 and webhook.received[0].json()["alert"]["window"] == "1d"
