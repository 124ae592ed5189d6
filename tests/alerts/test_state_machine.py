"""The alert state machine on its own: no database, no clock, no channel — states in, states out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from shipyard.alerts.rules import Condition, Rule
from shipyard.alerts.state_machine import (
    FIRING,
    INACTIVE,
    PENDING,
    REPEAT,
    RESOLVED,
    AlertStep,
    Observation,
    condition_holds,
    fingerprint,
    next_alert_state,
)
from shipyard.store.alerts import AlertRecord

T0 = datetime(2026, 11, 26, 8, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def slow_rule(*, hold: timedelta = 5 * MINUTE, repeat: timedelta = timedelta(hours=4)) -> Rule:
    """p99 latency above 250 ms, held for ``hold``."""
    return Rule(
        name="slow",
        figure="health.latency_p99_ms",
        column="",
        model="fraud@production",
        window=timedelta(hours=1),
        condition=Condition("above", None, 250.0),
        for_=hold,
        severity="critical",
        labels={"team": "risk"},
        channels=("log",),
        actions=(),
        cooldown=timedelta(hours=1),
        repeat=repeat,
    )


def seen(value: float | None, at: datetime = T0) -> Observation:
    return Observation(value, value, at)


def step(
    previous: AlertRecord | None,
    value: float | None,
    now: datetime,
    rule: Rule | None = None,
    silenced_by: int | None = None,
) -> AlertStep | None:
    observation = None if value is None else seen(value)
    return next_alert_state(
        previous, observation, rule or slow_rule(), now, model="fraud", version=3, silenced_by=silenced_by
    )


def run(
    values: list[float | None], rule: Rule | None = None, every: timedelta = MINUTE
) -> list[AlertStep | None]:
    """Evaluate once per ``every`` from T0, each step starting from the previous one's state."""
    steps: list[AlertStep | None] = []
    alert: AlertRecord | None = None
    for index, value in enumerate(values):
        moved = step(alert, value, T0 + index * every, rule)
        steps.append(moved)
        alert = moved.alert if moved is not None else alert
    return steps


def test_a_condition_that_does_not_hold_on_an_alert_never_seen_keeps_nothing() -> None:
    assert step(None, 100.0, T0) is None
    assert step(None, None, T0) is None


def test_a_condition_that_holds_starts_a_pending_alert_without_notifying() -> None:
    moved = step(None, 300.0, T0)
    assert moved is not None
    assert (moved.before, moved.after, moved.event, moved.notification) == (INACTIVE, PENDING, PENDING, None)
    assert moved.alert.fingerprint == fingerprint("slow", "fraud", 3, "")
    assert moved.alert.value == 300.0 and moved.alert.since == T0 and moved.alert.severity == "critical"
    assert moved.alert.details["condition"] == "value > 250" and moved.alert.details["labels"] == {
        "team": "risk"
    }


def test_a_pending_alert_fires_once_held_for_the_for_duration_and_notifies() -> None:
    steps = run([300.0, 300.0, 300.0, 300.0, 300.0, 300.0])  # every minute; for = 5 minutes
    assert [s.after if s else None for s in steps] == [PENDING] * 5 + [FIRING]
    assert [s.event if s else None for s in steps] == [PENDING, None, None, None, None, FIRING]
    fired = steps[-1]
    assert fired is not None and fired.notification is not None
    assert fired.notification.status == "firing"
    assert fired.notification.summary == "CRITICAL slow — fraud/3 health.latency_p99_ms = 300 (value > 250)"
    assert fired.alert.fired_at == fired.alert.last_notified_at == T0 + 5 * MINUTE
    assert fired.notification.alert["fired_at"] == (T0 + 5 * MINUTE).isoformat()


def test_without_a_for_duration_an_alert_fires_at_once_with_a_single_event() -> None:
    moved = step(None, 300.0, T0, slow_rule(hold=timedelta(0)))
    assert moved is not None and (moved.after, moved.event) == (FIRING, FIRING)
    assert moved.notification is not None


def test_a_pending_alert_whose_condition_fails_falls_back_to_inactive_silently() -> None:
    steps = run([300.0, 100.0])
    last = steps[-1]
    assert last is not None and (last.before, last.after, last.event, last.notification) == (
        PENDING,
        INACTIVE,
        INACTIVE,
        None,
    )


def test_a_firing_alert_resolves_and_says_so() -> None:
    steps = run([300.0, 300.0, 100.0], slow_rule(hold=MINUTE))
    resolved = steps[-1]
    assert resolved is not None and (resolved.before, resolved.after, resolved.event) == (
        FIRING,
        RESOLVED,
        RESOLVED,
    )
    assert resolved.alert.resolved_at == T0 + 2 * MINUTE
    assert resolved.notification is not None and resolved.notification.status == "resolved"
    assert resolved.notification.summary == (
        "resolved: slow — fraud/3 health.latency_p99_ms is back within value > 250"
    )


def test_no_data_resolves_a_firing_alert_and_keeps_a_quiet_one_quiet() -> None:
    firing = run([300.0, 300.0, None], slow_rule(hold=MINUTE))[-1]
    assert firing is not None and firing.after == RESOLVED and firing.alert.value is None
    inactive = run([300.0, 100.0, None])[-1]
    assert inactive is not None and (inactive.after, inactive.event) == (INACTIVE, None)
    assert condition_holds(slow_rule(), None) is False
    assert condition_holds(slow_rule(), Observation(300.0, None, T0)) is False  # no baseline to compare


def test_a_resolved_alert_whose_condition_holds_again_goes_pending_then_fires_again() -> None:
    steps = run([300.0, 300.0, 100.0, 300.0, 300.0], slow_rule(hold=MINUTE))
    assert [s.event if s else None for s in steps] == [PENDING, FIRING, RESOLVED, PENDING, FIRING]
    refired = steps[-1]
    assert refired is not None and refired.alert.resolved_at is None
    assert refired.alert.fired_at == T0 + 4 * MINUTE
    assert refired.notification is not None and refired.notification.status == "firing"


def test_a_firing_alert_notifies_again_only_every_repeat() -> None:
    rule = slow_rule(hold=timedelta(0), repeat=timedelta(hours=1))
    steps = run([300.0] * 7, rule, every=timedelta(minutes=20))  # 0, 20, 40, 60, 80, 100, 120 minutes
    told = [s.notification is not None if s else None for s in steps]
    assert told == [True, False, False, True, False, False, True]
    assert [s.event if s else None for s in steps] == [FIRING, None, None, REPEAT, None, None, REPEAT]


def test_a_silenced_alert_moves_but_tells_nothing_not_even_its_end() -> None:
    rule = slow_rule(hold=timedelta(0))
    fired = step(None, 300.0, T0, rule, silenced_by=7)
    assert fired is not None and (fired.after, fired.event, fired.notification) == (FIRING, FIRING, None)
    assert fired.silenced_by == 7 and fired.alert.last_notified_at is None
    resolved = step(fired.alert, 100.0, T0 + MINUTE, rule)
    assert resolved is not None and (resolved.after, resolved.notification) == (RESOLVED, None)


def test_an_alert_that_resolves_while_silenced_is_not_told_of_its_end() -> None:
    rule = slow_rule(hold=timedelta(0))
    fired = step(None, 300.0, T0, rule)
    assert fired is not None and fired.notification is not None
    during = step(fired.alert, 100.0, T0 + MINUTE, rule, silenced_by=1)
    assert during is not None and during.after == RESOLVED and during.notification is None


def test_a_relative_condition_is_tested_on_the_change_not_the_value() -> None:
    rule = slow_rule(hold=timedelta(0))
    relative = Rule(**{**rule.__dict__, "condition": Condition("below", -0.1, None, timedelta(hours=24))})
    dropped = Observation(0.7, (0.7 - 0.9) / 0.9, T0, baseline=0.9)
    moved = next_alert_state(None, dropped, relative, T0, model="fraud", version=3)
    assert moved is not None and moved.after == FIRING
    assert moved.alert.details["baseline"] == 0.9 and moved.alert.details["tested"] == dropped.tested


values = st.lists(st.one_of(st.none(), st.floats(0, 500)), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(values, st.integers(0, 6), st.integers(1, 6))
def test_any_sequence_of_observations_keeps_the_alert_consistent(
    observed: list[float | None], hold_minutes: int, repeat_hours: int
) -> None:
    """Whatever arrives: firing needs the condition held for ``for``; notifications never come closer than
    ``repeat`` while firing; a resolve is told only after a firing was; every move writes an event."""
    rule = slow_rule(hold=hold_minutes * MINUTE, repeat=timedelta(hours=repeat_hours))
    every = timedelta(minutes=10)
    held_since: datetime | None = None
    last_told: datetime | None = None
    fired_told = False
    for moved, value, index in zip(run(observed, rule, every), observed, range(len(observed)), strict=True):
        now = T0 + index * every
        holds = value is not None and value > 250
        held_since = (held_since or now) if holds else None
        if moved is None:
            assert not holds
            continue
        assert moved.alert.evaluated_at == now
        if moved.before != moved.after:
            assert moved.event == moved.after
        if moved.after == FIRING:
            assert holds and held_since is not None and now - held_since >= rule.for_
        if moved.after == PENDING:
            assert holds
        notification = moved.notification
        if notification is not None and notification.status == "firing":
            assert last_told is None or now - last_told >= rule.repeat or moved.event == FIRING
            last_told, fired_told = now, True
        if notification is not None and notification.status == "resolved":
            assert fired_told and moved.event == RESOLVED
            fired_told, last_told = False, None
        if moved.after == FIRING and moved.event == FIRING:
            assert notification is not None  # a new firing is always told (unless silenced)
