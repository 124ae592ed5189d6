"""Retraining runs in the metadata database (SQLite and PostgreSQL): one run per model at a time, a trigger
storm coalesced into it, a cooldown, each run's steps and end kept, and every start and end audited."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from shipyard import Registry
from shipyard.errors import Conflict, NotFound
from shipyard.store.retrain_runs import RetrainRunRecord, RetrainRunRepository
from tests.models import classification_frame, tiny_classifier


@pytest.fixture
def runs(registry: Registry) -> RetrainRunRepository:
    frame, _ = classification_frame()
    registry.register("fraud", tiny_classifier(), reference=frame)
    return RetrainRunRepository(registry.db, "retrainer")


def test_a_run_records_its_steps_and_how_it_ended(runs: RetrainRunRepository) -> None:
    run = runs.begin("fraud", "alert", detail={"alert_event": 7, "rule": "fraud-drift"})
    assert (run.state, run.step) == ("running", "start")
    assert run.trigger_detail == {"alert_event": 7, "rule": "fraud-drift"}
    runs.step(run.id, "data", {"dataset": "fraud-log/3", "rows": 5000})
    runs.step(run.id, "train", {"candidate": 2})
    done = runs.finish(run.id, "failed", "the gate refused fraud/2: roc_auc 0.81 < 0.85", {"gate": "failed"})
    assert (done.state, done.step, done.ended_at is not None) == ("failed", "train", True)
    assert done.details == {"dataset": "fraud-log/3", "rows": 5000, "candidate": 2, "gate": "failed"}
    with pytest.raises(Conflict, match=f"retraining run {run.id} of fraud is failed, not running"):
        runs.step(run.id, "gate")


def test_a_trigger_storm_starts_one_run_and_coalesces_the_rest(runs: RetrainRunRepository) -> None:
    barrier = threading.Barrier(8)
    started: list[RetrainRunRecord] = []

    def trigger() -> None:
        barrier.wait()
        started.append(runs.begin("fraud", "alert"))

    threads = [threading.Thread(target=trigger) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    states = sorted(run.state for run in started)
    assert states == ["coalesced"] * 7 + ["running"]
    running = next(run for run in started if run.state == "running")
    assert all(f"run {running.id} of fraud is running" in run.reason for run in started if run is not running)
    assert [run.state for run in runs.history("fraud")].count("coalesced") == 7


def test_the_cooldown_skips_a_trigger_and_says_when_the_next_may_start(runs: RetrainRunRepository) -> None:
    at = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
    first = runs.begin("fraud", "schedule", cooldown=timedelta(hours=6), now=at)
    runs.finish(first.id, "succeeded", "fraud/2 promoted")
    skipped = runs.begin("fraud", "labels", cooldown=timedelta(hours=6), now=at + timedelta(hours=5))
    assert skipped.state == "skipped" and "next one start at 2026-12-06 09:00:00 UTC" in skipped.reason
    later = runs.begin("fraud", "labels", cooldown=timedelta(hours=6), now=at + timedelta(hours=6))
    assert later.state == "running"


def test_history_is_newest_first_and_every_start_and_end_is_audited(
    registry: Registry, runs: RetrainRunRepository
) -> None:
    first = runs.begin("fraud", "manual")
    runs.finish(first.id, "succeeded", "fraud/2 registered")
    second = runs.begin("fraud", "manual")
    assert [run.id for run in runs.history("fraud")] == [second.id, first.id]
    assert runs.history("churn") == [] and runs.get(first.id).state == "succeeded"
    actions = [event.action for event in registry.audit(model="fraud", action="retrain")]
    assert sorted(actions) == ["retrain.start", "retrain.start", "retrain.succeed"]


def test_unknown_models_and_runs_are_named(runs: RetrainRunRepository) -> None:
    with pytest.raises(NotFound, match=r"model 'frud' not found.*did you mean 'fraud'"):
        runs.begin("frud", "manual")
    with pytest.raises(NotFound, match="retraining run 99 not found"):
        runs.get(99)
