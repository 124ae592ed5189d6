"""What the alerts did: the alerts open now, their events with what each sent and did, and test
notifications — what the CLI and the server show."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shipyard.alerts.channels import Delivery, Notification, deliver
from shipyard.alerts.rules import AlertsConfig
from shipyard.errors import NotFound
from shipyard.registry import Registry
from shipyard.store.alerts import AlertRepository


def current_alerts(registry: Registry, *, include_inactive: bool = False) -> list[dict[str, Any]]:
    """Every alert that is pending or firing (with ``include_inactive``: every alert ever evaluated)."""
    alerts = AlertRepository(registry.db).current(include_inactive=include_inactive)
    return [alert.to_dict() for alert in alerts]


def alert_history(
    registry: Registry, *, rule: str | None = None, model: str | None = None, last: int = 50
) -> list[dict[str, Any]]:
    """Alert events, newest first, each with its deliveries and actions."""
    events = AlertRepository(registry.db).history(rule=rule, model=model, last=last)
    return [event.to_dict() for event in events]


def send_test(registry: Registry, config: AlertsConfig, channels: list[str] | None = None) -> list[Delivery]:
    """Send a test notification through ``channels`` (default: every configured one) and record each."""
    names = channels or list(config.channels)
    unknown = [name for name in names if name not in config.channels]
    if unknown:
        raise NotFound(f"unknown channel(s) {', '.join(unknown)}; channels: {', '.join(config.channels)}")
    now = datetime.now(UTC)
    notification = Notification(
        "test",
        f"test notification from shipyard ({registry.actor}); nothing is wrong",
        {"rule": "test", "sent_at": now.isoformat(), "severity": "info"},
    )
    deliveries = deliver(notification, {name: config.channels[name] for name in names})
    AlertRepository(registry.db).record_deliveries(None, deliveries, now)
    return deliveries
