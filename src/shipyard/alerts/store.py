"""Reading alert state and history, and managing silences: what the CLI and the server show."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from shipyard.alerts.channels import Delivery, Notification, deliver
from shipyard.alerts.rules import AlertsConfig
from shipyard.errors import InvalidInput, NotFound
from shipyard.registry import Registry
from shipyard.store.schema import (
    AlertActionRow,
    AlertDeliveryRow,
    AlertEventRow,
    AlertSilenceRow,
    AlertStateRow,
)

#: What a silence may match on; labels match the rule's labels.
SILENCE_KEYS = ("rule", "model", "version", "column", "severity", "labels")


def current_alerts(registry: Registry, *, include_inactive: bool = False) -> list[dict[str, Any]]:
    """Every alert that is pending or firing (with ``include_inactive``: every alert ever evaluated)."""
    query = select(AlertStateRow).order_by(AlertStateRow.rule, AlertStateRow.model, AlertStateRow.version)
    if not include_inactive:
        query = query.where(AlertStateRow.state.in_(["pending", "firing"]))
    with registry.db.reading() as session:
        return [
            {
                "fingerprint": row.fingerprint,
                "rule": row.rule,
                "model": row.model,
                "version": row.version,
                "column": row.column,
                "state": row.state,
                "severity": row.severity,
                "value": row.value,
                "since": _iso(row.since),
                "fired_at": _iso(row.fired_at),
                "resolved_at": _iso(row.resolved_at),
                "last_notified_at": _iso(row.last_notified_at),
                "evaluated_at": _iso(row.evaluated_at),
                **row.details,
            }
            for row in session.execute(query).scalars()
        ]


def alert_history(
    registry: Registry, *, rule: str | None = None, model: str | None = None, last: int = 50
) -> list[dict[str, Any]]:
    """Alert events, newest first, each with its deliveries and actions."""
    query = select(AlertEventRow).order_by(AlertEventRow.at.desc(), AlertEventRow.id.desc()).limit(last)
    if rule is not None:
        query = query.where(AlertEventRow.rule == rule)
    if model is not None:
        query = query.where(AlertEventRow.model == model)
    with registry.db.reading() as session:
        events = list(session.execute(query).scalars())
        ids = [event.id for event in events]
        deliveries: dict[int, list[dict[str, Any]]] = {}
        for row in session.execute(
            select(AlertDeliveryRow).where(AlertDeliveryRow.event_id.in_(ids)).order_by(AlertDeliveryRow.id)
        ).scalars():
            deliveries.setdefault(row.event_id or 0, []).append(
                {
                    "channel": row.channel,
                    "delivered": row.delivered,
                    "attempts": row.attempts,
                    "error": row.error,
                    "seconds": round(row.seconds, 3),
                }
            )
        actions: dict[int, list[dict[str, Any]]] = {}
        for action in session.execute(
            select(AlertActionRow).where(AlertActionRow.event_id.in_(ids)).order_by(AlertActionRow.id)
        ).scalars():
            actions.setdefault(action.event_id, []).append(
                {"action": action.action, "status": action.status, "detail": action.detail}
            )
        return [
            {
                "id": event.id,
                "at": _iso(event.at),
                "kind": event.kind,
                "rule": event.rule,
                "model": event.model,
                "version": event.version,
                "column": event.column,
                "value": event.value,
                "silenced_by": event.silenced_by,
                "deliveries": deliveries.get(event.id, []),
                "actions": actions.get(event.id, []),
                **event.details,
            }
            for event in events
        ]


def silence(
    registry: Registry,
    matchers: dict[str, Any],
    starts_at: datetime,
    ends_at: datetime,
    *,
    comment: str = "",
) -> AlertSilenceRow:
    """Hold back the notifications and actions of every alert matching all ``matchers`` until ``ends_at``."""
    unknown = sorted(set(matchers) - set(SILENCE_KEYS))
    if unknown:
        raise InvalidInput(f"a silence matches on {', '.join(SILENCE_KEYS)}; not on {', '.join(unknown)}")
    if not matchers:
        raise InvalidInput("a silence needs at least one matcher (--rule, --model, --label …)")
    if ends_at <= starts_at:
        raise InvalidInput("a silence must end after it starts")

    def work(session: Any) -> AlertSilenceRow:
        row = AlertSilenceRow(
            matchers=dict(matchers),
            starts_at=starts_at,
            ends_at=ends_at,
            created_by=registry.actor,
            comment=comment,
        )
        session.add(row)
        session.flush()
        session.expunge(row)
        return row

    return registry.db.write(work)


def unsilence(registry: Registry, silence_id: int, now: datetime | None = None) -> None:
    """End a silence now."""
    now = now or datetime.now(UTC)

    def work(session: Any) -> None:
        row = session.get(AlertSilenceRow, silence_id)
        if row is None:
            raise NotFound(f"there is no silence {silence_id}; see 'shipyard alerts silences'")
        row.ends_at = min(row.ends_at, now)

    registry.db.write(work)


def silences(
    registry: Registry, *, now: datetime | None = None, include_ended: bool = False
) -> list[dict[str, Any]]:
    now = now or datetime.now(UTC)
    query = select(AlertSilenceRow).order_by(AlertSilenceRow.id)
    if not include_ended:
        query = query.where(AlertSilenceRow.ends_at > now)
    with registry.db.reading() as session:
        return [
            {
                "id": row.id,
                "matchers": row.matchers,
                "starts_at": _iso(row.starts_at),
                "ends_at": _iso(row.ends_at),
                "created_by": row.created_by,
                "comment": row.comment,
            }
            for row in session.execute(query).scalars()
        ]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


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

    registry.db.write(lambda session: session.add_all(delivery_row(d, None, now) for d in deliveries))
    return deliveries


def delivery_row(delivery: Delivery, event_id: int | None, at: datetime) -> AlertDeliveryRow:
    """How one delivery is recorded (``event_id`` None for a test notification)."""
    return AlertDeliveryRow(
        event_id=event_id,
        channel=delivery.channel,
        delivered=delivery.delivered,
        attempts=delivery.attempts,
        error=delivery.error,
        seconds=delivery.seconds,
        at=at,
    )
