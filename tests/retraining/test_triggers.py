"""Which triggers of a retraining policy are due: the decision on its own, then the facts gathered from a
real registry (a firing alert written by the alert evaluator, labels in the feedback store, past runs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shipyard import Registry
from shipyard.alerts import AlertEvaluator, load_alerts
from shipyard.config import CONFIG_FILE
from shipyard.retraining import policy_from_dict
from shipyard.retraining.triggers import Signals, due, gather_signals
from shipyard.store.feedback import FeedbackRepository, NewLabel
from shipyard.store.retrain_runs import RetrainRunRepository
from tests.alerts.conftest import T0, record_window, register_fraud

NOW = datetime(2026, 12, 6, 3, 30, tzinfo=UTC)
TRIGGERS = {"schedule": "0 3 * * *", "alerts": ["fraud-drift"], "new_labels": 100}
POLICY = policy_from_dict("fraud", {"spec": "s.toml", "data": {"source": "log"}, "triggers": TRIGGERS})


def test_a_schedule_is_due_once_per_cron_time_after_the_last_run() -> None:
    assert due(POLICY, Signals(NOW, since=NOW - timedelta(hours=1))) == (
        "schedule",
        {"schedule": "0 3 * * *", "at": "2026-12-06T03:00:00+00:00"},
    )
    assert due(POLICY, Signals(NOW, since=NOW - timedelta(minutes=10))) is None  # ran at 03:20


def test_an_alert_of_a_named_rule_is_due_and_others_are_not() -> None:
    since = NOW - timedelta(minutes=10)
    fired = [
        {"id": 8, "rule": "fraud-drift", "at": NOW - timedelta(minutes=2)},
        {"id": 7, "rule": "fraud-drift", "at": NOW - timedelta(minutes=5)},
    ]
    assert due(POLICY, Signals(NOW, since, fired=fired)) == (
        "alert",
        {"rule": "fraud-drift", "event": 7, "events": 2},
    )
    other = [{"id": 9, "rule": "slow", "at": NOW}]
    assert due(POLICY, Signals(NOW, since, fired=other)) is None


def test_enough_new_labels_are_due() -> None:
    since = NOW - timedelta(minutes=10)
    assert due(POLICY, Signals(NOW, since, new_labels=99)) is None
    assert due(POLICY, Signals(NOW, since, new_labels=100)) == (
        "labels",
        {"new_labels": 100, "threshold": 100},
    )


def test_signals_count_from_the_last_run_that_acted(registry: Registry) -> None:
    register_fraud(registry)
    (registry.settings.home / CONFIG_FILE).write_text(
        """
[alerts]
default_channels = ["log"]
[alerts.channels.log]
type = "log"
[alerts.defaults]
enabled = false
[[alerts.rules]]
name = "fraud-drift"
model = "fraud@production"
figure = "health.latency_p99_ms"
above = 100
""",
        encoding="utf-8",
    )
    record_window(registry, T0, version=2, health={"latency_p99_ms": 250.0})
    AlertEvaluator(registry, load_alerts(registry.settings, registry)).evaluate(T0 + timedelta(minutes=1))
    feedback = FeedbackRepository(registry.db)
    labels = {f"id-{n}": NewLabel("fraud", 2, T0, "1") for n in range(3)}
    feedback.store(labels, source="test", received_at=T0 + timedelta(minutes=2))
    watching = T0 - timedelta(hours=1)

    signals = gather_signals(registry, POLICY, T0 + timedelta(minutes=3), watching_since=watching)
    assert [event["rule"] for event in signals.fired] == ["fraud-drift"] and signals.new_labels == 3

    ran = T0 + timedelta(minutes=2, seconds=30)
    RetrainRunRepository(registry.db, "tester").begin("fraud", "alert", now=ran)
    after = gather_signals(registry, POLICY, T0 + timedelta(minutes=3), watching_since=watching)
    assert after.since == ran
    assert (after.fired, after.new_labels) == ([], 0)
