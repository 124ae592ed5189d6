"""How one alert moves at one evaluation: a pure function of its previous state, the newest observation of
its figure, its rule and the time — no database, no clock, no network.

Alerts move like Prometheus's::

    inactive ──condition holds──▶ pending ──held for `for`──▶ firing ──condition fails──▶ resolved
        ▲                           │                                                       │
        └─────condition fails───────┘◀──────────────────────────────────────────────────────┘

No data counts as the condition failing. A firing alert notifies once, again every ``repeat`` while it
lasts (deduplication: never more often), and once more on resolve if its firing was notified. A silenced
alert still moves, but notifies nothing — and, having told nothing, is not told of its end either.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from shipyard.alerts.channels import Notification
from shipyard.alerts.rules import Rule
from shipyard.durations import duration_label
from shipyard.store.alerts import AlertRecord

INACTIVE, PENDING, FIRING, RESOLVED = "inactive", "pending", "firing", "resolved"
#: The event of a firing alert that notified again, without changing state.
REPEAT = "repeat"


@dataclass(frozen=True)
class Observation:
    """A figure's newest value for one alert, and what the condition was tested on."""

    value: float | None
    tested: float | None  # the value, or its change relative to the baseline
    window_start: datetime
    baseline: float | None = None


@dataclass(frozen=True)
class AlertStep:
    """One alert after one evaluation: its new state, the event to record and the notification to send."""

    alert: AlertRecord
    before: str  # the state it was in
    event: str | None  # pending, firing, resolved, inactive or repeat; None when nothing happened
    notification: Notification | None
    silenced_by: int | None = None

    @property
    def after(self) -> str:
        return self.alert.state


def fingerprint(rule: str, model: str, version: int, column: str) -> str:
    """The identity of an alert: one rule on one model version (and column)."""
    return hashlib.sha256(f"{rule}\0{model}\0{version}\0{column}".encode()).hexdigest()[:32]


def condition_holds(rule: Rule, observation: Observation | None) -> bool:
    """Whether the rule's condition holds on the observation (never without data)."""
    return (
        observation is not None
        and observation.tested is not None
        and rule.condition.holds(observation.tested)
    )


def next_alert_state(
    previous: AlertRecord | None,
    observation: Observation | None,
    rule: Rule,
    now: datetime,
    *,
    model: str,
    version: int,
    column: str = "",
    silenced_by: int | None = None,
) -> AlertStep | None:
    """Move one alert (``previous`` None: one never seen) a step at ``now``; None when there is no alert
    and the condition does not hold, so nothing is worth keeping."""
    holds = condition_holds(rule, observation)
    if previous is None:
        if not holds:
            return None
        previous = _new_alert(rule, model, version, column, now)
    silenced = silenced_by is not None
    if holds:
        alert, event, send = _while_condition_holds(previous, rule, now, silenced)
    else:
        alert, event, send = _when_condition_fails(previous, now, silenced)
    if send is not None:
        alert = replace(alert, last_notified_at=now)
    alert = replace(
        alert,
        value=observation.value if observation is not None else None,
        severity=rule.severity,
        evaluated_at=now,
        details=alert_details(rule, observation),
    )
    notification = _notification(rule, alert, observation, send) if send is not None else None
    return AlertStep(alert, previous.state, event, notification, silenced_by)


def _new_alert(rule: Rule, model: str, version: int, column: str, now: datetime) -> AlertRecord:
    return AlertRecord(
        fingerprint=fingerprint(rule.name, model, version, column),
        rule=rule.name,
        model=model,
        version=version,
        column=column,
        state=INACTIVE,
        severity=rule.severity,
        value=None,
        since=now,
        fired_at=None,
        resolved_at=None,
        last_notified_at=None,
        evaluated_at=now,
        details={},
    )


def _while_condition_holds(
    alert: AlertRecord, rule: Rule, now: datetime, silenced: bool
) -> tuple[AlertRecord, str | None, str | None]:
    """Start pending, fire once held for ``for``, and notify a firing alert at most every ``repeat``."""
    event: str | None = None
    if alert.state in (INACTIVE, RESOLVED):
        alert, event = replace(alert, state=PENDING, since=now), PENDING
    if alert.state == PENDING and now - alert.since >= rule.for_:
        alert = replace(alert, state=FIRING, since=now, fired_at=now, resolved_at=None, last_notified_at=None)
        event = FIRING
    if alert.state != FIRING or silenced:
        return alert, event, None
    last = alert.last_notified_at
    if last is not None and now - last < rule.repeat:
        return alert, event, None  # told recently: deduplicated
    return alert, event or REPEAT, FIRING


def _when_condition_fails(
    alert: AlertRecord, now: datetime, silenced: bool
) -> tuple[AlertRecord, str | None, str | None]:
    """A pending alert falls back to inactive; a firing one resolves, told only if its firing was."""
    if alert.state == PENDING:
        return replace(alert, state=INACTIVE, since=now), INACTIVE, None
    if alert.state == FIRING:
        resolved = replace(alert, state=RESOLVED, since=now, resolved_at=now)
        told = alert.last_notified_at is not None and not silenced
        return resolved, RESOLVED, RESOLVED if told else None
    return alert, None, None


def alert_details(rule: Rule, observation: Observation | None) -> dict[str, Any]:
    """What is kept with an alert and its events besides its state: the rule's terms and the observation."""
    return {
        "figure": rule.figure,
        "condition": rule.condition.describe(),
        "window": duration_label(rule.window),
        "window_start": observation.window_start.isoformat() if observation else None,
        "baseline": observation.baseline if observation else None,
        "tested": observation.tested if observation else None,
        "labels": dict(rule.labels),
    }


def _notification(
    rule: Rule, alert: AlertRecord, observation: Observation | None, status: str
) -> Notification:
    return Notification(status, _summary(rule, alert, observation, status), _facts(rule, alert, observation))


def _facts(rule: Rule, alert: AlertRecord, observation: Observation | None) -> dict[str, Any]:
    return {
        "rule": rule.name,
        "fingerprint": alert.fingerprint,
        "model": alert.model,
        "version": alert.version,
        "column": alert.column,
        "figure": rule.figure,
        "value": observation.value if observation else None,
        "baseline": observation.baseline if observation else None,
        "condition": rule.condition.describe(),
        "window": duration_label(rule.window),
        "window_start": observation.window_start.isoformat() if observation else None,
        "severity": rule.severity,
        "labels": dict(rule.labels),
        "description": rule.description,
        "fired_at": alert.fired_at.isoformat() if alert.fired_at else None,
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
    }


def _summary(rule: Rule, alert: AlertRecord, observation: Observation | None, status: str) -> str:
    subject = f"{alert.model}/{alert.version} {rule.figure}" + (f"[{alert.column}]" if alert.column else "")
    if status == RESOLVED:
        return f"resolved: {rule.name} — {subject} is back within {rule.condition.describe()}"
    value = observation.value if observation else None
    shown = "no data" if value is None else f"{value:.4g}"
    return f"{rule.severity.upper()} {rule.name} — {subject} = {shown} ({rule.condition.describe()})"
