"""A window without a value yet (just begun, or begun while the server was down) says nothing: a firing alert
keeps firing through it without a second notification, and still resolves once its data is too old.

This is what lets a killed and restarted server resume its alerts without re-sending them
(tests/reliability/test_faults.py drives it end to end).
"""

from __future__ import annotations

from datetime import timedelta

from shipyard import Registry
from shipyard.alerts import AlertEvaluator, load_alerts
from shipyard.config import CONFIG_FILE
from tests.alerts.conftest import HOUR, T0, WebhookReceiver, hook_channel, record_window, register_fraud

MINUTE = timedelta(minutes=1)


def test_an_empty_window_neither_resolves_nor_renotifies_a_firing_alert(
    registry: Registry, webhook: WebhookReceiver
) -> None:
    register_fraud(registry)
    rule = """
[alerts.defaults]
enabled = false
[[alerts.rules]]
name = "slow"
model = "fraud@production"
figure = "health.latency_p99_ms"
above = 100
"""
    (registry.settings.home / CONFIG_FILE).write_text(hook_channel(webhook) + rule, encoding="utf-8")
    evaluator = AlertEvaluator(registry, load_alerts(registry.settings, registry))

    record_window(registry, T0, version=2, health={"latency_p99_ms": 500.0})
    [fired] = evaluator.evaluate(T0 + 5 * MINUTE)
    assert fired.after == "firing"
    # The next window has begun with no request in it yet: the last window's value still holds.
    record_window(registry, T0 + HOUR, version=2, health={"latency_p99_ms": None})
    assert all(outcome.after == "firing" for outcome in evaluator.evaluate(T0 + HOUR + MINUTE))
    record_window(registry, T0 + HOUR, version=2, health={"latency_p99_ms": 400.0})
    assert all(outcome.after == "firing" for outcome in evaluator.evaluate(T0 + HOUR + 5 * MINUTE))
    assert [r.json()["status"] for r in webhook.received] == ["firing"]
    # With nothing newer for two window lengths, the alert resolves as before.
    [resolved] = evaluator.evaluate(T0 + 4 * HOUR)
    assert resolved.after == "resolved"
    assert [r.json()["status"] for r in webhook.received] == ["firing", "resolved"]
