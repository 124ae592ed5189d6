"""Alerts in the metadata database: each alert's current state, its events, what they sent and did, and
the silences that hold notifications back.

The alert service decides how an alert moves (a pure state machine); ``AlertRepository.update`` reads the
states of one rule and model version with the active silences, lets the service decide, and writes the new
states and their events in that same transaction. States are kept here, so a restart neither drops a
firing alert nor sends it again as new.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shipyard.store.database import Database
from shipyard.store.schema import (
    AlertActionRow,
    AlertDeliveryRow,
    AlertEventRow,
    AlertSilenceRow,
    AlertStateRow,
)

OPEN_STATES = ("pending", "firing")


@dataclass(frozen=True)
class AlertRecord:
    """The current state of one alert: a rule applied to one model version (and column)."""

    fingerprint: str
    rule: str
    model: str
    version: int
    column: str
    state: str  # inactive, pending, firing, resolved
    severity: str
    value: float | None
    since: datetime  # when the current state began
    fired_at: datetime | None
    resolved_at: datetime | None
    last_notified_at: datetime | None
    evaluated_at: datetime
    details: dict[str, Any]  # labels, condition, window start, baseline

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "rule": self.rule,
            "model": self.model,
            "version": self.version,
            "column": self.column,
            "state": self.state,
            "severity": self.severity,
            "value": self.value,
            "since": _iso(self.since),
            "fired_at": _iso(self.fired_at),
            "resolved_at": _iso(self.resolved_at),
            "last_notified_at": _iso(self.last_notified_at),
            "evaluated_at": _iso(self.evaluated_at),
            **self.details,
        }


@dataclass(frozen=True)
class AlertEvent:
    """A transition of an alert (or a repeated notification), with its deliveries and actions."""

    id: int
    at: datetime
    kind: str
    rule: str
    model: str
    version: int
    column: str
    value: float | None
    silenced_by: int | None
    details: dict[str, Any]
    deliveries: list[dict[str, Any]]
    actions: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": _iso(self.at),
            "kind": self.kind,
            "rule": self.rule,
            "model": self.model,
            "version": self.version,
            "column": self.column,
            "value": self.value,
            "silenced_by": self.silenced_by,
            "deliveries": self.deliveries,
            "actions": self.actions,
            **self.details,
        }


@dataclass(frozen=True)
class Silence:
    """Notifications and actions of alerts matching every one of ``matchers`` are held back until
    ``ends_at``."""

    id: int
    matchers: dict[str, Any]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": self.matchers,
            "starts_at": _iso(self.starts_at),
            "ends_at": _iso(self.ends_at),
            "created_by": self.created_by,
            "comment": self.comment,
        }


class AlertChange(Protocol):
    """What an evaluation decided for one alert: its new state, and the event to record (if any)."""

    @property
    def alert(self) -> AlertRecord: ...
    @property
    def event(self) -> str | None: ...
    @property
    def silenced_by(self) -> int | None: ...


class SentDelivery(Protocol):
    """One notification sent (or not) through one channel."""

    @property
    def channel(self) -> str: ...
    @property
    def delivered(self) -> bool: ...
    @property
    def attempts(self) -> int: ...
    @property
    def error(self) -> str: ...
    @property
    def seconds(self) -> float: ...


class TakenAction(Protocol):
    """An action an alert triggered, and how it went (done, skipped, failed)."""

    @property
    def action(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def detail(self) -> str: ...


Change = TypeVar("Change", bound=AlertChange)
#: Given the stored states of one rule and version (by column) and the active silences, the changes.
Decide = Callable[[dict[str, AlertRecord], list[Silence]], list[Change]]


class AlertRepository:
    """The alert states, events, deliveries, actions and silences of one metadata database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- states and events ---------------------------------------------------------------------------------
    def update(
        self, rule: str, model: str, version: int, now: datetime, decide: Decide[Change]
    ) -> list[tuple[Change, int | None]]:
        """In one transaction: read the states of ``rule`` on ``model``/``version`` and the silences active
        at ``now``, ask ``decide`` for the changes, write each new state and its event. Returns each change
        with the id of the event written for it (None without one). ``decide`` may be called again if the
        transaction is retried, so it must only compute."""

        def work(session: Session) -> list[tuple[Change, int | None]]:
            rows = {
                row.column: row
                for row in session.execute(
                    select(AlertStateRow).where(
                        AlertStateRow.rule == rule,
                        AlertStateRow.model == model,
                        AlertStateRow.version == version,
                    )
                ).scalars()
            }
            changes = decide({column: _alert(row) for column, row in rows.items()}, _active(session, now))
            written: list[tuple[Change, int | None]] = []
            for change in changes:
                row = rows.get(change.alert.column)
                if row is None:
                    row = AlertStateRow(fingerprint=change.alert.fingerprint)
                    session.add(row)
                _copy_state(change.alert, row)
                written.append((change, _add_event(session, change, now)))
            return written

        return self.db.write(work)

    def open_alerts(self, rule: str) -> set[tuple[str, int]]:
        """``(model, version)`` of every pending or firing alert of ``rule``."""
        with self.db.reading() as session:
            query = select(AlertStateRow.model, AlertStateRow.version).where(
                AlertStateRow.rule == rule, AlertStateRow.state.in_(OPEN_STATES)
            )
            return {(model, version) for model, version in session.execute(query)}

    def current(self, *, include_inactive: bool = False) -> list[AlertRecord]:
        """Every open alert (with ``include_inactive``: every alert ever evaluated), by rule and model."""
        query = select(AlertStateRow).order_by(AlertStateRow.rule, AlertStateRow.model, AlertStateRow.version)
        if not include_inactive:
            query = query.where(AlertStateRow.state.in_(OPEN_STATES))
        with self.db.reading() as session:
            return [_alert(row) for row in session.execute(query).scalars()]

    def history(
        self, *, rule: str | None = None, model: str | None = None, last: int = 50
    ) -> list[AlertEvent]:
        """Alert events, newest first, each with its deliveries and actions."""
        query = select(AlertEventRow).order_by(AlertEventRow.at.desc(), AlertEventRow.id.desc()).limit(last)
        if rule is not None:
            query = query.where(AlertEventRow.rule == rule)
        if model is not None:
            query = query.where(AlertEventRow.model == model)
        with self.db.reading() as session:
            events = list(session.execute(query).scalars())
            ids = [event.id for event in events]
            deliveries = _deliveries_of(session, ids)
            actions = _actions_of(session, ids)
            return [
                AlertEvent(
                    id=event.id,
                    at=event.at,
                    kind=event.kind,
                    rule=event.rule,
                    model=event.model,
                    version=event.version,
                    column=event.column,
                    value=event.value,
                    silenced_by=event.silenced_by,
                    details=dict(event.details),
                    deliveries=deliveries.get(event.id, []),
                    actions=actions.get(event.id, []),
                )
                for event in events
            ]

    # -- what events sent and did --------------------------------------------------------------------------
    def record_deliveries(
        self, event_id: int | None, deliveries: Iterable[SentDelivery], at: datetime
    ) -> None:
        """Record notifications sent for an event (``event_id`` None for a test notification)."""
        rows = [_delivery_row(delivery, event_id, at) for delivery in deliveries]
        self.db.write(lambda session: session.add_all(rows))

    def record_outcome(
        self,
        event_id: int,
        *,
        rule: str,
        model: str,
        version: int,
        deliveries: Iterable[SentDelivery],
        actions: Iterable[TakenAction],
        at: datetime,
    ) -> None:
        """Record what an event sent and which actions it triggered, in one transaction."""
        rows: list[AlertDeliveryRow | AlertActionRow] = [
            _delivery_row(delivery, event_id, at) for delivery in deliveries
        ]
        rows += [
            AlertActionRow(
                event_id=event_id,
                rule=rule,
                model=model,
                version=version,
                action=action.action,
                status=action.status,
                detail=action.detail,
                at=at,
            )
            for action in actions
        ]
        self.db.write(lambda session: session.add_all(rows))

    def last_action_at(self, model: str, action: str) -> datetime | None:
        """When an action of this kind was last done on ``model``, by any rule."""
        with self.db.reading() as session:
            return session.execute(
                select(func.max(AlertActionRow.at)).where(
                    AlertActionRow.model == model,
                    AlertActionRow.action == action,
                    AlertActionRow.status == "done",
                )
            ).scalar_one_or_none()

    # -- silences ------------------------------------------------------------------------------------------
    def add_silence(
        self,
        matchers: dict[str, Any],
        starts_at: datetime,
        ends_at: datetime,
        *,
        created_by: str,
        comment: str,
    ) -> Silence:
        def work(session: Session) -> Silence:
            row = AlertSilenceRow(
                matchers=dict(matchers),
                starts_at=starts_at,
                ends_at=ends_at,
                created_by=created_by,
                comment=comment,
            )
            session.add(row)
            session.flush()
            return _silence(row)

        return self.db.write(work)

    def end_silence(self, silence_id: int, at: datetime) -> bool:
        """End a silence at ``at`` (if it ends later); False when there is no such silence."""

        def work(session: Session) -> bool:
            row = session.get(AlertSilenceRow, silence_id)
            if row is None:
                return False
            row.ends_at = min(row.ends_at, at)
            return True

        return self.db.write(work)

    def silences(self, now: datetime, *, include_ended: bool = False) -> list[Silence]:
        """Silences not ended at ``now`` (or every one), oldest first."""
        query = select(AlertSilenceRow).order_by(AlertSilenceRow.id)
        if not include_ended:
            query = query.where(AlertSilenceRow.ends_at > now)
        with self.db.reading() as session:
            return [_silence(row) for row in session.execute(query).scalars()]


def _active(session: Session, now: datetime) -> list[Silence]:
    query = select(AlertSilenceRow).where(AlertSilenceRow.starts_at <= now, AlertSilenceRow.ends_at > now)
    return [_silence(row) for row in session.execute(query).scalars()]


def _add_event(session: Session, change: AlertChange, at: datetime) -> int | None:
    if change.event is None:
        return None
    alert = change.alert
    event = AlertEventRow(
        fingerprint=alert.fingerprint,
        rule=alert.rule,
        model=alert.model,
        version=alert.version,
        column=alert.column,
        kind=change.event,
        at=at,
        value=alert.value,
        silenced_by=change.silenced_by,
        details=alert.details,
    )
    session.add(event)
    session.flush()  # its id: what the deliveries and actions are recorded against
    return event.id


def _copy_state(alert: AlertRecord, row: AlertStateRow) -> None:
    row.rule, row.model, row.version, row.column = alert.rule, alert.model, alert.version, alert.column
    row.state, row.severity, row.value, row.since = alert.state, alert.severity, alert.value, alert.since
    row.fired_at, row.resolved_at = alert.fired_at, alert.resolved_at
    row.last_notified_at, row.evaluated_at = alert.last_notified_at, alert.evaluated_at
    row.details = dict(alert.details)


def _alert(row: AlertStateRow) -> AlertRecord:
    return AlertRecord(
        fingerprint=row.fingerprint,
        rule=row.rule,
        model=row.model,
        version=row.version,
        column=row.column,
        state=row.state,
        severity=row.severity,
        value=row.value,
        since=row.since,
        fired_at=row.fired_at,
        resolved_at=row.resolved_at,
        last_notified_at=row.last_notified_at,
        evaluated_at=row.evaluated_at,
        details=dict(row.details),
    )


def _silence(row: AlertSilenceRow) -> Silence:
    return Silence(row.id, dict(row.matchers), row.starts_at, row.ends_at, row.created_by, row.comment)


def _delivery_row(delivery: SentDelivery, event_id: int | None, at: datetime) -> AlertDeliveryRow:
    return AlertDeliveryRow(
        event_id=event_id,
        channel=delivery.channel,
        delivered=delivery.delivered,
        attempts=delivery.attempts,
        error=delivery.error,
        seconds=delivery.seconds,
        at=at,
    )


def _deliveries_of(session: Session, event_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    query = select(AlertDeliveryRow).where(AlertDeliveryRow.event_id.in_(event_ids))
    for row in session.execute(query.order_by(AlertDeliveryRow.id)).scalars():
        found.setdefault(row.event_id or 0, []).append(
            {
                "channel": row.channel,
                "delivered": row.delivered,
                "attempts": row.attempts,
                "error": row.error,
                "seconds": round(row.seconds, 3),
            }
        )
    return found


def _actions_of(session: Session, event_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    query = select(AlertActionRow).where(AlertActionRow.event_id.in_(event_ids))
    for row in session.execute(query.order_by(AlertActionRow.id)).scalars():
        found.setdefault(row.event_id, []).append(
            {"action": row.action, "status": row.status, "detail": row.detail}
        )
    return found


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
