"""Alerts: declarative rules over the monitored series, with states, silences, channels and actions.

add_rule(registry, {"name": "slow", "model": "fraud@production", "figure": "health.latency_p99_ms",
                    "above": 250, "for": "5m", "actions": [{"type": "rollback"}]})
config = load_alerts(registry.settings, registry, served=["fraud@production"])   # checked now
AlertEvaluator(registry, config).evaluate()      # what the monitoring runner does every interval
load_alerts_as_served(registry, ["fraud@production"])  # the same rules, read over the server's windows
current_alerts(registry); alert_history(registry, rule="fraud:error-rate")
"""

from shipyard.alerts.channels import Delivery, Notification, deliver
from shipyard.alerts.evaluator import AlertEvaluator, Outcome
from shipyard.alerts.history import alert_history, current_alerts, notify, send_test
from shipyard.alerts.rules import (
    AlertsConfig,
    Rule,
    add_rule,
    load_alerts,
    load_alerts_as_served,
    remove_rule,
)
from shipyard.alerts.silences import silence, silences, unsilence

__all__ = [
    "AlertEvaluator",
    "AlertsConfig",
    "Delivery",
    "Notification",
    "Outcome",
    "Rule",
    "add_rule",
    "alert_history",
    "current_alerts",
    "deliver",
    "load_alerts",
    "load_alerts_as_served",
    "notify",
    "remove_rule",
    "send_test",
    "silence",
    "silences",
    "unsilence",
]
