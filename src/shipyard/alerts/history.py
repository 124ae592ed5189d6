"""What the alerts did: the alerts open now, their events with what each sent and did, and test
notifications — what the CLI and the server show — and one-off notifications that no rule raised (a
rollout aborted by its analysis), sent through the workspace's channels."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shipyard.alerts.channels import Delivery, Notification, deliver
from shipyard.alerts.rules import LOG_CHANNEL, AlertsConfig, ChannelConfig, _read_document
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


def notify(registry: Registry, notification: Notification) -> list[Delivery]:
    """Send a notification no alert rule raised (a rollout's abort) through the workspace's default
    channels (``[alerts] default_channels``; the log when none is declared), and record each delivery.
    Like every delivery, it never raises for a channel that is down: the outcomes say what happened."""
    document, _ = _read_document(registry.settings, None)
    channels = {LOG_CHANNEL: ChannelConfig(type="log"), **document.channels}
    names = [name for name in document.default_channels if name in channels] or [LOG_CHANNEL]
    deliveries = deliver(notification, {name: channels[name] for name in names})
    AlertRepository(registry.db).record_deliveries(None, deliveries, datetime.now(UTC))
    return deliveries
