"""The rollout controller on a real registry (SQLite and PostgreSQL) and a real prediction log: it walks a
good canary to promotion, aborts a bad one with an alert, waits for data and then fails, holds a paused
rollout, resumes after a restart, stops when the alias is moved by hand, and ends A/B tests and shadows."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shipyard import Registry
from shipyard.predictions import PredictionLog
from shipyard.rollouts import RolloutPlan, advance
from shipyard.rollouts import service as rollouts
from shipyard.rollouts.analysis import Analysis, CheckResult
from shipyard.rollouts.controller import StepClock, decide, next_analysis_at, step_clock
from tests.receivers import webhook_receiver
from tests.rollouts.traffic import answered, failed, fraud_versions, shadows, write


def _plan(**keys: object) -> RolloutPlan:
    return RolloutPlan.from_dict({"to": 2, "interval": 1, "min_requests": 20, **keys}, model="fraud")


def _entered(registry: Registry, rollout_id: int) -> datetime:
    """When the rollout's current step began running (the database's clock)."""
    return step_clock(rollouts.get(registry, rollout_id)).running_since


@pytest.fixture
def log_url(tmp_path: Path) -> str:
    return str(tmp_path / "logs")


def _good_traffic(url: str, at: datetime, *, candidate_arm: str = "canary", count: int = 30) -> None:
    write(
        url,
        answered(count, version=1, arm="stable", at=at)
        + answered(count, version=2, arm=candidate_arm, at=at),
    )


def test_a_good_canary_walks_its_steps_and_promotes(registry: Registry, log_url: str) -> None:
    fraud_versions(registry)
    started = rollouts.start(registry, _plan(), reason="v2 is better")
    log = PredictionLog(log_url)
    shares = []
    for _ in range(4):
        at = _entered(registry, started.id)
        _good_traffic(log_url, at + timedelta(milliseconds=100))
        assert advance(registry, log, now=at + timedelta(seconds=0.5)) == []  # the interval has not run
        [moved] = advance(registry, log, now=at + timedelta(seconds=1.5))
        shares.append((moved.action, moved.candidate_share))
    assert shares == [("step", 0.25), ("step", 0.5), ("step", 1.0), ("promote", 1.0)]
    assert registry.resolve("fraud@production").version == 2
    [move] = [change for change in registry.alias_history("fraud", "production") if change.version == 2]
    assert f"rollout {started.id} promoted v2" in move.reason and "step 4 of 4 passed" in move.reason
    ended = rollouts.get(registry, started.id)
    assert ended.state == "promoted"
    assert [step.candidate_share for step in ended.steps] == [0.05, 0.25, 0.5, 1.0]
    assert [a["verdict"] for step in ended.steps for a in step.analyses] == ["pass"] * 4


def test_at_its_last_step_a_canary_is_judged_against_stable_from_just_before_the_step(
    registry: Registry, log_url: str
) -> None:
    """At 100% stable answers nothing, as on a real server: its figures come from as long before the step."""
    fraud_versions(registry)
    started = rollouts.start(registry, _plan(steps=[50, 100]))
    log = PredictionLog(log_url)
    at = _entered(registry, started.id)
    _good_traffic(log_url, at)
    time.sleep(0.1)  # the next step begins after this traffic, as it does on a server
    [moved] = advance(registry, log, now=at + timedelta(seconds=1.5))
    assert (moved.action, moved.candidate_share) == ("step", 1.0)
    at = _entered(registry, started.id)
    write(log_url, answered(30, version=2, arm="canary", at=at + timedelta(milliseconds=100)))
    [promoted] = advance(registry, log, now=at + timedelta(seconds=1.5))
    assert (promoted.action, promoted.state) == ("promote", "promoted")
    assert promoted.analysis is not None and promoted.analysis["figures"]["stable"]["requests"] == 30


def test_a_canary_that_errors_more_is_aborted_with_the_check_named(
    registry: Registry, log_url: str, workspace: Path
) -> None:
    fraud_versions(registry)
    with webhook_receiver() as receiver:
        (workspace / "shipyard.toml").write_text(
            '[alerts]\ndefault_channels = ["ops"]\n'
            f'[alerts.channels.ops]\ntype = "webhook"\nurl = "{receiver.url}"\n'
        )
        started = rollouts.start(registry, _plan())
        at = _entered(registry, started.id) + timedelta(milliseconds=100)
        write(
            log_url,
            answered(30, version=1, arm="stable", at=at) + answered(30, version=2, arm="canary", at=at),
            failed(10, version=2, arm="canary", at=at),
        )
        [aborted] = advance(registry, PredictionLog(log_url), now=at + timedelta(seconds=1.5))
        assert (aborted.action, aborted.state, aborted.candidate_share) == ("abort", "aborted", 0.0)
        assert rollouts.active_split(registry, "fraud") is None  # every request back on stable
        [event] = registry.audit(action="rollout.abort")
        assert event.reason.startswith("check error_rate failed: error rate 25.00% (candidate) vs 0.00%")
        assert event.after is not None and event.after["check"]["name"] == "error_rate"
        assert event.after["analysis"]["figures"]["candidate"]["errors"] == 10
        [sent] = receiver.received
    body = sent.json()
    assert body["status"] == "firing" and "error_rate" in body["summary"]
    assert body["alert"]["rollout"] == started.id and body["alert"]["check"]["value"] == 0.25
    assert registry.resolve("fraud@production").version == 1


def test_a_check_under_its_failure_limit_waits_and_then_judges_only_new_traffic(
    registry: Registry, log_url: str
) -> None:
    fraud_versions(registry)
    started = rollouts.start(registry, _plan(checks={"error_rate": {"failure_limit": 2}}))
    at = _entered(registry, started.id)
    log = PredictionLog(log_url)
    write(
        log_url,
        answered(30, version=1, arm="stable", at=at) + answered(30, version=2, arm="canary", at=at),
        failed(10, version=2, arm="canary", at=at),
    )
    [first] = advance(registry, log, now=at + timedelta(seconds=1.5))
    assert (first.action, first.state, first.analysis and first.analysis["verdict"]) == (
        "wait",
        "running",
        "fail",
    )
    _good_traffic(log_url, at + timedelta(seconds=1.6))
    [second] = advance(registry, log, now=at + timedelta(seconds=2.6))
    assert (second.action, second.step_index) == ("step", 1)  # the failed window was not judged twice


def test_no_traffic_waits_then_fails_with_not_enough_data(registry: Registry, log_url: str) -> None:
    fraud_versions(registry)
    started = rollouts.start(registry, _plan())
    at = _entered(registry, started.id)
    log = PredictionLog(log_url)
    [waiting] = advance(registry, log, now=at + timedelta(seconds=1.5))
    assert (waiting.action, waiting.state) == ("wait", "running")
    assert waiting.analysis is not None and waiting.analysis["verdict"] == "not_enough_data"
    assert advance(registry, log, now=at + timedelta(seconds=2)) == []  # next analysis one interval later
    [ended] = advance(registry, log, now=at + timedelta(seconds=3.5))  # max_wait: three intervals
    assert (ended.action, ended.state) == ("fail", "failed")
    assert ended.reason.startswith("not enough data after 3 s at step 1: stable has 0 and candidate has 0 of")
    assert registry.resolve("fraud@production").version == 1
    assert rollouts.active_split(registry, "fraud") is None


def test_a_paused_rollout_holds_its_step(registry: Registry, log_url: str) -> None:
    fraud_versions(registry)
    started = rollouts.start(registry, _plan())
    at = _entered(registry, started.id)
    _good_traffic(log_url, at + timedelta(milliseconds=100))
    rollouts.pause(registry, "fraud", reason="looking")
    assert advance(registry, PredictionLog(log_url), now=at + timedelta(seconds=30)) == []
    held = rollouts.get(registry, started.id)
    assert (held.state, held.step_index, [a for s in held.steps for a in s.analyses]) == ("paused", 0, [])


def test_a_restarted_controller_continues_at_the_stored_step(
    registry: Registry, log_url: str, workspace: Path, registry_url: str
) -> None:
    fraud_versions(registry)
    started = rollouts.start(registry, _plan())
    at = _entered(registry, started.id)
    _good_traffic(log_url, at + timedelta(milliseconds=100))
    [first] = advance(registry, PredictionLog(log_url), now=at + timedelta(seconds=1.5))
    assert first.step_index == 1
    with Registry(home=workspace, registry_url=registry_url) as reopened:  # a new process, say
        at = _entered(reopened, started.id)
        _good_traffic(log_url, at + timedelta(milliseconds=100))
        [second] = advance(reopened, PredictionLog(log_url), now=at + timedelta(seconds=1.5))
    assert (second.step_index, second.candidate_share) == (2, 0.5)


def test_an_alias_moved_by_hand_stops_the_rollout(registry: Registry, log_url: str) -> None:
    fraud_versions(registry)
    started = rollouts.start(registry, _plan())
    registry.set_alias("fraud", "production", 3, reason="hotfix")
    [stopped] = advance(registry, PredictionLog(log_url))
    assert (stopped.rollout_id, stopped.action, stopped.state) == (started.id, "stop", "stopped")
    assert "moved to v3 by tester (hotfix)" in stopped.reason
    assert registry.resolve("fraud@production").version == 3


def test_an_ab_test_ends_with_a_verdict_once_each_arm_has_its_sample(
    registry: Registry, log_url: str
) -> None:
    fraud_versions(registry)
    started = rollouts.start(registry, _plan(strategy="ab", steps=[50], interval=600, sample_size=25))
    at = _entered(registry, started.id)
    log = PredictionLog(log_url)
    write(
        log_url, answered(10, version=1, arm="stable", at=at) + answered(10, version=2, arm="canary", at=at)
    )
    assert advance(registry, log, now=at + timedelta(seconds=2)) == []  # 10 of 25 each, interval is 10 min
    _good_traffic(log_url, at + timedelta(milliseconds=100), count=20)
    [verdict] = advance(registry, log, now=at + timedelta(seconds=3))
    assert (verdict.action, verdict.state) == ("promote", "promoted")
    assert registry.resolve("fraud@production").version == 2


def test_an_ab_test_that_fails_a_check_is_aborted(registry: Registry, log_url: str) -> None:
    fraud_versions(registry)
    plan = _plan(
        strategy="ab", steps=[50], interval=600, sample_size=25, checks={"error_rate": {"failure_limit": 3}}
    )
    started = rollouts.start(registry, plan)
    at = _entered(registry, started.id) + timedelta(milliseconds=100)
    write(
        log_url,
        answered(30, version=1, arm="stable", at=at) + answered(30, version=2, arm="canary", at=at),
        failed(5, version=2, arm="canary", at=at),
    )
    [verdict] = advance(registry, PredictionLog(log_url), now=at + timedelta(seconds=2))
    assert (verdict.action, verdict.state) == ("abort", "aborted")  # an A/B verdict is final
    assert "error_rate" in verdict.reason


@pytest.mark.parametrize(("flip", "action", "state"), [(False, "pass", "passed"), (True, "abort", "aborted")])
def test_a_shadow_is_judged_on_agreement(
    registry: Registry, log_url: str, flip: bool, action: str, state: str
) -> None:
    fraud_versions(registry)
    started = rollouts.start(registry, _plan(strategy="shadow", to=3))
    at = _entered(registry, started.id) + timedelta(milliseconds=100)
    stable = answered(30, version=1, arm="stable", at=at)
    write(log_url, stable + shadows(stable, version=3, flip=flip))
    [judged] = advance(registry, PredictionLog(log_url), now=at + timedelta(seconds=1.5))
    assert (judged.action, judged.state) == (action, state)
    assert judged.analysis is not None
    pairs = judged.analysis["figures"]["pairs"]
    assert (pairs["pairs"], pairs["agreement"]) == (30, 0.0 if flip else 1.0)
    assert (pairs["mean_abs_score_difference"] > 0.5) is flip
    assert registry.resolve("fraud@production").version == 1  # a shadow never moves the alias


def test_a_blue_green_switch_is_held_then_promoted(registry: Registry, log_url: str) -> None:
    fraud_versions(registry)
    before = datetime.now(UTC) - timedelta(seconds=1)
    write(log_url, answered(30, version=1, arm="stable", at=before))  # stable's figures: before the switch
    started = rollouts.start(registry, _plan(strategy="blue_green", hold=2))
    assert started.candidate_share == 1.0
    at = _entered(registry, started.id)
    write(log_url, answered(30, version=2, arm="canary", at=at + timedelta(milliseconds=100)))
    [held] = advance(registry, PredictionLog(log_url), now=at + timedelta(seconds=1.5))
    assert (held.action, held.analysis and held.analysis["verdict"]) == ("wait", "pass")
    [promoted] = advance(registry, PredictionLog(log_url), now=at + timedelta(seconds=2.5))
    assert promoted.action == "promote" and registry.resolve("fraud@production").version == 2


# The decisions alone, without a database.

T0 = datetime.fromisoformat("2026-01-01T00:00:00+00:00")


def _analysis(verdict: str, *, passed: bool | None = None, at: float = 0.0) -> dict[str, object]:
    result = CheckResult("error_rate", 0.0, 0.01, passed, "detail")
    stored = Analysis(verdict, [result]).to_dict()  # type: ignore[arg-type]
    end = T0 + timedelta(seconds=at)
    return {**stored, "window": {"start": T0.isoformat(), "end": end.isoformat()}}


def test_the_next_analysis_is_an_interval_after_the_last_and_never_after_the_deadline() -> None:
    plan = RolloutPlan(model="fraud", candidate=2, interval=10, max_wait=25)
    assert next_analysis_at(plan, StepClock(0, T0, T0)) == T0 + timedelta(seconds=10)
    later = StepClock(0, T0, T0, (_analysis("not_enough_data", at=20),))
    assert next_analysis_at(plan, later) == T0 + timedelta(seconds=25)
    resumed = StepClock(0, T0, T0 + timedelta(seconds=100), (_analysis("not_enough_data", at=20),))
    assert next_analysis_at(plan, resumed) == T0 + timedelta(seconds=110)


def test_a_failed_analysis_under_its_failure_limit_waits_and_restarts_the_window() -> None:
    plan = _plan(checks={"error_rate": {"failure_limit": 2}})
    failing = Analysis("fail", [CheckResult("error_rate", 0.2, 0.01, False, "worse")])
    clock = StepClock(1, T0, T0, (_analysis("fail", passed=False, at=5),))
    assert decide(plan, clock, [failing], T0 + timedelta(seconds=5)).action == "wait"
    assert clock.window_start() == T0 + timedelta(seconds=5)
    second = decide(plan, clock, [failing, failing], T0 + timedelta(seconds=6))
    assert second.action == "abort" and second.check is not None and second.check.name == "error_rate"


def test_a_pass_takes_the_next_step_and_the_last_step_promotes() -> None:
    plan = _plan()
    passing = Analysis("pass", [CheckResult("error_rate", 0.0, 0.01, True, "fine")])
    step = decide(plan, StepClock(0, T0, T0), [passing], T0)
    assert (step.action, step.step_index, step.share) == ("step", 1, 0.25)
    assert decide(plan, StepClock(3, T0, T0), [passing], T0).action == "promote"
