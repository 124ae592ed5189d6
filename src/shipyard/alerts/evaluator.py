"""Evaluating alert rules over the monitored series: states, notifications, silences and actions.

Each rule applies to every model version its selector names, and for a figure of a column to that column
(or to each, with ``"*"``); each such pair is one alert, identified by a fingerprint. An evaluation reads
the newest stored window of the rule's length for each version (windows older than two lengths count as
no data) and moves each alert one step (``state_machine``: pending, firing, resolved, deduplicated
notifications). A silence holds back the notifications and actions of the alerts it matches; the states
still move. States live in the metadata database, so a restart neither drops a firing alert nor sends it
again as new.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from shipyard.alerts.actions import ActionOutcome, run_action
from shipyard.alerts.channels import Delivery, Notification, deliver
from shipyard.alerts.rules import AlertsConfig, Rule
from shipyard.alerts.silences import matching_silence
from shipyard.alerts.state_machine import FIRING, AlertStep, Observation, next_alert_state
from shipyard.durations import duration_label
from shipyard.errors import ShipyardError
from shipyard.refs import ModelRef
from shipyard.registry import Registry
from shipyard.store.alerts import AlertRecord, AlertRepository, Silence
from shipyard.store.monitor_series import MonitorSeriesRepository

log = logging.getLogger("shipyard.alerts")


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

    @classmethod
    def of(cls, step: AlertStep, event_id: int | None) -> Outcome:
        alert = step.alert
        return cls(
            alert.fingerprint,
            alert.rule,
            alert.model,
            alert.version,
            alert.column,
            step.before,
            step.after,
            alert.value,
            step.event,
            step.silenced_by,
            event_id,
        )

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


class AlertEvaluator:
    """Evaluates every rule of ``config`` against the series in ``registry``'s database."""

    def __init__(self, registry: Registry, config: AlertsConfig) -> None:
        self.registry = registry
        self.config = config
        self.alerts = AlertRepository(registry.db)
        self.series = MonitorSeriesRepository(registry.db)

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
                self._record_what_was_sent_and_done(outcome, now)
        return [outcome for outcome in outcomes if outcome.event is not None]

    # -- one rule ------------------------------------------------------------------------------------------
    def _evaluate_rule(self, rule: Rule, now: datetime) -> list[tuple[Outcome, Notification | None]]:
        """Move every alert of the rule, one transaction per model version."""
        moved = []
        selected, left = self._targets(rule, now)
        for model, version in sorted(selected | left):
            observed, held = (
                self._observe(rule, model, version, now) if (model, version) in selected else ({}, set())
            )

            decide = partial(_step_each_alert, rule, model, version, observed, held, now)
            for step, event_id in self.alerts.update(rule.name, model, version, now, decide):
                moved.append((Outcome.of(step, event_id), step.notification))
        return moved

    def _targets(self, rule: Rule, now: datetime) -> tuple[set[tuple[str, int]], set[tuple[str, int]]]:
        """The model versions the rule's selector names now, and those it no longer names that still have
        an open alert: those get evaluated without data, so they resolve instead of firing forever (an
        alias that moved on, a version whose series stopped)."""
        still_open = self.alerts.open_alerts(rule.name)
        if rule.model != "*":
            reference = ModelRef.parse(rule.model)
            if reference.alias is not None or reference.version is not None:
                version = self.registry.resolve(rule.model)
                selected = {(version.model, version.version)}
                return selected, still_open - selected
        selected = self.series.versions_with_figure(
            rule.figure,
            int(rule.window.total_seconds()),
            after=now - 2 * rule.window,
            until=now,
            model=None if rule.model == "*" else rule.model,
        )
        return selected, still_open - selected

    def _observe(
        self, rule: Rule, model: str, version: int, now: datetime
    ) -> tuple[dict[str, Observation], set[str]]:
        """The newest fresh value of the rule's figure for each column (``""`` for the whole window), and the
        columns held where they are: the newest fresh window had too few rows to judge them, which says
        nothing either way, so their alerts neither fire nor resolve on it."""
        relative_to = rule.condition.relative_to
        newest = self.series.newest_figure(
            model, version, rule.figure, int(rule.window.total_seconds()), until=now, means_over=relative_to
        )
        stale = now - 2 * rule.window
        held = set(newest.withheld) if newest and newest.withheld_at and newest.withheld_at > stale else set()
        if newest is None or newest.window_start <= stale:
            return {}, held
        observed = {}
        for column, value in newest.values:
            if rule.column not in ("*", column):
                continue
            tested: float | None = value
            baseline = newest.means.get(column)
            if relative_to is not None:
                tested = (value - baseline) / abs(baseline) if value is not None and baseline else None
            observed[column] = Observation(value, tested, newest.window_start, baseline)
        return observed, held

    # -- side effects after the commit ---------------------------------------------------------------------
    def _deliver(self, rule: Rule, notification: Notification) -> list[Delivery]:
        channels = {
            name: self.config.channels[name] for name in rule.channels if name in self.config.channels
        }
        return deliver(notification, channels)

    def _act(self, rule: Rule, action: Any, outcome: Outcome, reason: str, now: datetime) -> ActionOutcome:
        """Run one action unless one of its kind was done on this model, by any rule, within the cooldown:
        one incident firing several rules must not roll back twice or start two retrainings."""
        last = self.alerts.last_action_at(outcome.model, action.type)
        if last is not None and now - last < rule.cooldown:
            return ActionOutcome(
                action.type,
                "skipped",
                f"cooldown: the last {action.type} of {outcome.model} was at "
                f"{last.isoformat()}, less than {duration_label(rule.cooldown)} ago",
            )
        result = run_action(
            self.registry, action, rule, outcome.model, outcome.version, reason, now, outcome.event_id
        )
        log.warning("alert %s: %s %s — %s", rule.name, action.type, result.status, result.detail)
        return result

    def _record_what_was_sent_and_done(self, outcome: Outcome, now: datetime) -> None:
        event_id = outcome.event_id
        assert event_id is not None, "a notification always follows an event"
        self.alerts.record_outcome(
            event_id,
            rule=outcome.rule,
            model=outcome.model,
            version=outcome.version,
            deliveries=outcome.deliveries,
            actions=outcome.actions,
            at=now,
        )


def _step_each_alert(
    rule: Rule,
    model: str,
    version: int,
    observed: dict[str, Observation],
    held: set[str],
    now: datetime,
    states: dict[str, AlertRecord],
    silences: list[Silence],
) -> list[AlertStep]:
    """Move every alert of ``rule`` on this version: each column observed now or with a stored state, except
    the ``held`` ones (too few rows to judge them just now)."""
    steps = (
        next_alert_state(
            states.get(column),
            observed.get(column),
            rule,
            now,
            model=model,
            version=version,
            column=column,
            silenced_by=matching_silence(silences, rule, model, version, column),
        )
        for column in sorted((set(observed) | set(states)) - held)
    )
    return [step for step in steps if step is not None]
