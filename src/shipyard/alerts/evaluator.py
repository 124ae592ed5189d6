"""Evaluating alert rules over the monitored series: states, notifications, silences and actions.

Each rule applies to every model version its selector names, and for a figure of a column to that column
(or to each, with ``"*"``); each such pair is one alert, identified by a fingerprint. An evaluation reads
the newest stored window of the rule's length for each version (windows older than two lengths count as
no data) and moves each alert like Prometheus does::

    inactive ──condition holds──▶ pending ──held for `for`──▶ firing ──condition fails──▶ resolved
        ▲                           │                                                       │
        └─────condition fails───────┘◀──────────────────────────────────────────────────────┘

A firing alert notifies once, again every ``repeat`` while it lasts, and once more on resolve (if its
firing was notified). A silence holds back the notifications and actions of the alerts it matches; the
states still move. States live in the metadata database, so a restart neither drops a firing alert nor
sends it again as new.
"""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shipyard.alerts.actions import ActionOutcome, run_action
from shipyard.alerts.channels import Delivery, Notification, deliver
from shipyard.alerts.rules import AlertsConfig, Rule
from shipyard.alerts.store import delivery_row
from shipyard.durations import duration_label
from shipyard.errors import ShipyardError
from shipyard.refs import ModelRef
from shipyard.registry import Registry
from shipyard.store.schema import (
    AlertActionRow,
    AlertEventRow,
    AlertSilenceRow,
    AlertStateRow,
    ModelRow,
    MonitorPointRow,
)

log = logging.getLogger("shipyard.alerts")

INACTIVE, PENDING, FIRING, RESOLVED = "inactive", "pending", "firing", "resolved"


@dataclass(frozen=True)
class Observation:
    """A figure's newest value for one alert, and what the condition was tested on."""

    value: float | None
    tested: float | None  # the value, or its change relative to the baseline
    window_start: datetime
    baseline: float | None = None


@dataclass
class Outcome:
    """What one evaluation did to one alert."""

    fingerprint: str
    rule: str
    model: str
    version: int
    column: str
    before: str
    after: str
    value: float | None
    event: str | None = None  # the event written: pending, firing, resolved, inactive or repeat
    silenced_by: int | None = None
    event_id: int | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    actions: list[ActionOutcome] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "rule": self.rule,
            "model": self.model,
            "version": self.version,
            "column": self.column,
            "before": self.before,
            "after": self.after,
            "value": self.value,
            "event": self.event,
            "silenced_by": self.silenced_by,
            "deliveries": [delivery.__dict__ for delivery in self.deliveries],
            "actions": [action.__dict__ for action in self.actions],
        }


def fingerprint(rule: str, model: str, version: int, column: str) -> str:
    return hashlib.sha256(f"{rule}\0{model}\0{version}\0{column}".encode()).hexdigest()[:32]


class AlertEvaluator:
    """Evaluates every rule of ``config`` against the series in ``registry``'s database."""

    def __init__(self, registry: Registry, config: AlertsConfig) -> None:
        self.registry = registry
        self.config = config

    def evaluate(self, now: datetime | None = None) -> list[Outcome]:
        """One evaluation of every rule at ``now``; returns what changed (and every repeat sent).

        States move first (committed per rule and version); then every notification of the evaluation is
        sent at once, so a receiver that hangs delays no other alert; then the actions run one at a time
        in rule order, so a second rollback of one alias sees the first.
        """
        now = now or datetime.now(UTC)
        outcomes: list[Outcome] = []
        told: list[tuple[Rule, Outcome, Notification]] = []
        for rule in self.config.rules:
            try:
                for outcome, notification in self._evaluate_rule(rule, now):
                    outcomes.append(outcome)
                    if notification is not None:
                        told.append((rule, outcome, notification))
            except ShipyardError as error:  # one rule's trouble (an alias deleted) must not stop the others
                log.warning("alert rule %s could not be evaluated: %s", rule.name, error)
        if told:
            with ThreadPoolExecutor(max_workers=min(8, len(told)), thread_name_prefix="alert") as pool:
                sent = list(pool.map(lambda work: self._deliver(work[0], work[2]), told))
            for (rule, outcome, notification), deliveries in zip(told, sent, strict=True):
                outcome.deliveries = deliveries
                if notification.status == "firing" and outcome.event == FIRING:
                    reason = f"alert {rule.name} fired: {notification.summary}"
                    outcome.actions = [
                        self._act(rule, action, outcome, reason, now) for action in rule.actions
                    ]
                self.registry.db.write(partial(self._record, outcome=outcome, now=now))
        return [outcome for outcome in outcomes if outcome.event is not None]

    # -- one rule ------------------------------------------------------------------------------------------
    def _evaluate_rule(self, rule: Rule, now: datetime) -> list[tuple[Outcome, Notification | None]]:
        moved = []
        selected, left = self._targets(rule, now)
        for model, version in sorted(selected | left):
            observed = self._observe(rule, model, version, now) if (model, version) in selected else {}
            moved += self.registry.db.write(
                partial(self._step, rule=rule, model=model, version=version, observed=observed, now=now)
            )
        return moved

    def _targets(self, rule: Rule, now: datetime) -> tuple[set[tuple[str, int]], set[tuple[str, int]]]:
        """The model versions the rule's selector names now, and those it no longer names that still have
        an open alert: those get evaluated without data, so they resolve instead of firing forever (an
        alias that moved on, a version whose series stopped)."""
        with self.registry.db.reading() as session:
            open_alerts = select(AlertStateRow.model, AlertStateRow.version).where(
                AlertStateRow.rule == rule.name, AlertStateRow.state.in_([PENDING, FIRING])
            )
            still_open = {(name, version) for name, version in session.execute(open_alerts)}
        if rule.model != "*":
            reference = ModelRef.parse(rule.model)
            if reference.alias is not None or reference.version is not None:
                version = self.registry.resolve(rule.model)
                selected = {(version.model, version.version)}
                return selected, still_open - selected
        query = (
            select(ModelRow.name, MonitorPointRow.version)
            .join(ModelRow, ModelRow.id == MonitorPointRow.model_id)
            .where(
                MonitorPointRow.window_seconds == int(rule.window.total_seconds()),
                MonitorPointRow.metric == rule.figure,
                MonitorPointRow.window_start > now - 2 * rule.window,
                MonitorPointRow.window_start <= now,
            )
            .distinct()
        )
        if rule.model != "*":
            query = query.where(ModelRow.name == rule.model)
        with self.registry.db.reading() as session:
            selected = {(name, version) for name, version in session.execute(query)}
        return selected, still_open - selected

    def _observe(self, rule: Rule, model: str, version: int, now: datetime) -> dict[str, Observation]:
        """The newest fresh value of the rule's figure for each column (``""`` for the whole window)."""
        seconds = int(rule.window.total_seconds())
        with self.registry.db.reading() as session:
            model_id = session.execute(select(ModelRow.id).where(ModelRow.name == model)).scalar_one_or_none()
            if model_id is None:
                return {}
            series = (
                MonitorPointRow.model_id == model_id,
                MonitorPointRow.version == version,
                MonitorPointRow.window_seconds == seconds,
                MonitorPointRow.metric == rule.figure,
            )
            newest = session.execute(
                select(func.max(MonitorPointRow.window_start)).where(
                    *series, MonitorPointRow.window_start <= now
                )
            ).scalar_one_or_none()
            if newest is None or newest <= now - 2 * rule.window:
                return {}
            newest = newest
            rows = session.execute(
                select(MonitorPointRow.column, MonitorPointRow.value).where(
                    *series, MonitorPointRow.window_start == newest
                )
            ).all()
            baselines: dict[str, float] = {}
            relative_to = rule.condition.relative_to
            if relative_to is not None:
                baselines = {
                    column: float(mean)
                    for column, mean in session.execute(
                        select(MonitorPointRow.column, func.avg(MonitorPointRow.value))
                        .where(
                            *series,
                            MonitorPointRow.window_start >= newest - relative_to,
                            MonitorPointRow.window_start < newest,
                            MonitorPointRow.value.is_not(None),
                        )
                        .group_by(MonitorPointRow.column)
                    )
                    if mean is not None
                }
        observed = {}
        for column, value in rows:
            if rule.column not in ("*", column):
                continue
            tested: float | None = value
            baseline = baselines.get(column)
            if relative_to is not None:
                tested = (value - baseline) / abs(baseline) if value is not None and baseline else None
            observed[column] = Observation(value, tested, newest, baseline)
        return observed

    def _step(
        self,
        session: Session,
        *,
        rule: Rule,
        model: str,
        version: int,
        observed: dict[str, Observation],
        now: datetime,
    ) -> list[tuple[Outcome, Notification | None]]:
        """Move every alert of this rule and version one step; write states and events (one transaction)."""
        states = {
            row.column: row
            for row in session.execute(
                select(AlertStateRow).where(
                    AlertStateRow.rule == rule.name,
                    AlertStateRow.model == model,
                    AlertStateRow.version == version,
                )
            ).scalars()
        }
        silences = _active_silences(session, now)
        results = []
        for column in sorted(set(observed) | set(states)):
            observation = observed.get(column)
            holds = (
                observation is not None
                and observation.tested is not None
                and rule.condition.holds(observation.tested)
            )
            row = states.get(column)
            if row is None:
                if not holds:
                    continue
                row = AlertStateRow(
                    fingerprint=fingerprint(rule.name, model, version, column),
                    rule=rule.name,
                    model=model,
                    version=version,
                    column=column,
                    state=INACTIVE,
                    severity=rule.severity,
                    since=now,
                    evaluated_at=now,
                    details={},
                )
                session.add(row)
            value = observation.value if observation is not None else None
            outcome = Outcome(row.fingerprint, rule.name, model, version, column, row.state, row.state, value)
            outcome.silenced_by = _matching_silence(silences, rule, model, version, column)
            notification = self._advance(row, rule, holds, observation, outcome, now)
            row.value = value
            row.severity = rule.severity
            row.evaluated_at = now
            row.details = _details(rule, observation, row)
            if outcome.event is not None:
                event = AlertEventRow(
                    fingerprint=row.fingerprint,
                    rule=rule.name,
                    model=model,
                    version=version,
                    column=column,
                    kind=outcome.event,
                    at=now,
                    value=value,
                    silenced_by=outcome.silenced_by,
                    details=row.details,
                )
                session.add(event)
                session.flush()  # its id: what the deliveries and actions are recorded against
                outcome.event_id = event.id
            results.append((outcome, notification))
        return results

    def _advance(
        self,
        row: AlertStateRow,
        rule: Rule,
        holds: bool,
        observation: Observation | None,
        outcome: Outcome,
        now: datetime,
    ) -> Notification | None:
        """The state machine. Returns the notification to send, if any (sent after the commit)."""
        state = row.state
        send: str | None = None
        if holds:
            if state in (INACTIVE, RESOLVED):
                state, row.since, outcome.event = PENDING, now, PENDING
            if state == PENDING and now - row.since >= rule.for_:
                state, row.since, outcome.event = FIRING, now, FIRING
                row.fired_at, row.resolved_at, row.last_notified_at = now, None, None
            last = row.last_notified_at
            if (
                state == FIRING
                and outcome.silenced_by is None
                and (last is None or now - last >= rule.repeat)
            ):
                send = "firing"
                outcome.event = outcome.event or "repeat"
        elif state == PENDING:
            state, row.since, outcome.event = INACTIVE, now, INACTIVE
        elif state == FIRING:
            state, row.since, row.resolved_at, outcome.event = RESOLVED, now, now, RESOLVED
            if row.last_notified_at is not None and outcome.silenced_by is None:
                send = "resolved"  # only an alert whose firing was told is told of its end
        row.state = outcome.after = state
        if send is None:
            return None
        row.last_notified_at = now
        return Notification(
            send, _summary(rule, row, observation, send), _alert_facts(rule, row, observation)
        )

    # -- side effects after the commit ---------------------------------------------------------------------
    def _deliver(self, rule: Rule, notification: Notification) -> list[Delivery]:
        channels = {
            name: self.config.channels[name] for name in rule.channels if name in self.config.channels
        }
        return deliver(notification, channels)

    def _act(self, rule: Rule, action: Any, outcome: Outcome, reason: str, now: datetime) -> ActionOutcome:
        """Run one action unless one of its kind was done on this model, by any rule, within the cooldown:
        one incident firing several rules must not roll back twice or start two retrainings."""
        with self.registry.db.reading() as session:
            last = session.execute(
                select(func.max(AlertActionRow.at)).where(
                    AlertActionRow.model == outcome.model,
                    AlertActionRow.action == action.type,
                    AlertActionRow.status == "done",
                )
            ).scalar_one_or_none()
        if last is not None and now - last < rule.cooldown:
            return ActionOutcome(
                action.type,
                "skipped",
                f"cooldown: the last {action.type} of {outcome.model} was at "
                f"{last.isoformat()}, less than {duration_label(rule.cooldown)} ago",
            )
        result = run_action(self.registry, action, rule, outcome.model, outcome.version, reason, now)
        log.warning("alert %s: %s %s — %s", rule.name, action.type, result.status, result.detail)
        return result

    def _record(self, session: Session, *, outcome: Outcome, now: datetime) -> None:
        event_id = outcome.event_id
        assert event_id is not None, "a notification always follows an event"
        session.add_all(delivery_row(delivery, event_id, now) for delivery in outcome.deliveries)
        for action in outcome.actions:
            session.add(
                AlertActionRow(
                    event_id=event_id,
                    rule=outcome.rule,
                    model=outcome.model,
                    version=outcome.version,
                    action=action.action,
                    status=action.status,
                    detail=action.detail,
                    at=now,
                )
            )


def _active_silences(session: Session, now: datetime) -> list[AlertSilenceRow]:
    return list(
        session.execute(
            select(AlertSilenceRow).where(AlertSilenceRow.starts_at <= now, AlertSilenceRow.ends_at > now)
        ).scalars()
    )


def _matching_silence(
    silences: list[AlertSilenceRow], rule: Rule, model: str, version: int, column: str
) -> int | None:
    facts: dict[str, Any] = {
        "rule": rule.name,
        "model": model,
        "version": version,
        "column": column,
        "severity": rule.severity,
    }
    for silence in silences:
        matchers = dict(silence.matchers)
        labels = matchers.pop("labels", {}) or {}
        if all(facts.get(key) == value for key, value in matchers.items()) and all(
            rule.labels.get(key) == value for key, value in labels.items()
        ):
            return silence.id
    return None


def _details(rule: Rule, observation: Observation | None, row: AlertStateRow) -> dict[str, Any]:
    return {
        "figure": rule.figure,
        "condition": rule.condition.describe(),
        "window": duration_label(rule.window),
        "window_start": observation.window_start.isoformat() if observation else None,
        "baseline": observation.baseline if observation else None,
        "tested": observation.tested if observation else None,
        "labels": dict(rule.labels),
    }


def _alert_facts(rule: Rule, row: AlertStateRow, observation: Observation | None) -> dict[str, Any]:
    return {
        "rule": rule.name,
        "fingerprint": row.fingerprint,
        "model": row.model,
        "version": row.version,
        "column": row.column,
        "figure": rule.figure,
        "value": observation.value if observation else None,
        "baseline": observation.baseline if observation else None,
        "condition": rule.condition.describe(),
        "window": duration_label(rule.window),
        "window_start": observation.window_start.isoformat() if observation else None,
        "severity": rule.severity,
        "labels": dict(rule.labels),
        "description": rule.description,
        "fired_at": row.fired_at.isoformat() if row.fired_at else None,
        "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
    }


def _summary(rule: Rule, row: AlertStateRow, observation: Observation | None, status: str) -> str:
    subject = f"{row.model}/{row.version} {rule.figure}" + (f"[{row.column}]" if row.column else "")
    if status == "resolved":
        return f"resolved: {rule.name} — {subject} is back within {rule.condition.describe()}"
    value = observation.value if observation else None
    shown = "no data" if value is None else f"{value:.4g}"
    return f"{rule.severity.upper()} {rule.name} — {subject} = {shown} ({rule.condition.describe()})"
