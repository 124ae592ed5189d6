"""The rollout tables: one active rollout per alias (also under concurrent starts), guarded state changes,
steps with their analyses, audit events in the same transaction, and the migration both ways."""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect

from shipyard import Conflict, NotFound, Registry
from shipyard.store.database import HEAD_REVISION
from shipyard.store.rollouts import RolloutRepository
from tests.models import tiny_classifier

PLAN = {"model": "fraud", "to": 2, "strategy": "canary", "steps": [5, 25, 50, 100]}


def _fraud(registry: Registry, versions: int = 3) -> None:
    for seed in range(versions):
        registry.register("fraud", tiny_classifier(seed))
    registry.set_alias("fraud", "production", 1)


def _create(
    repository: RolloutRepository, candidate: int = 2, alias: str = "production", stable: int = 1
) -> Any:
    return repository.create(
        {**PLAN, "to": candidate, "alias": alias},
        model="fraud",
        alias=alias,
        stable=stable,
        candidate=candidate,
        strategy="canary",
        candidate_share=0.05,
        reason="try v2",
    )


def test_a_rollout_is_recorded_running_at_its_first_step_with_an_audit_event(registry: Registry) -> None:
    _fraud(registry)
    repository = RolloutRepository(registry.db, "tester")
    record = _create(repository)
    assert (record.state, record.step_index, record.candidate_share) == ("running", 0, 0.05)
    assert (record.stable, record.candidate, record.started_by) == (1, 2, "tester")
    assert repository.get(record.id) == record
    assert repository.active("fraud") == [record] == repository.active_all()
    assert repository.active("fraud", "staging") == []
    [event] = registry.audit(action="rollout.")
    assert (event.action, event.target, event.reason) == ("rollout.start", "fraud@production", "try v2")
    assert event.before == {"version": 1} and event.after is not None and event.after["rollout"] == record.id


def test_a_second_rollout_on_the_same_alias_is_refused_naming_the_first(registry: Registry) -> None:
    _fraud(registry)
    registry.set_alias("fraud", "staging", 1)
    repository = RolloutRepository(registry.db, "tester")
    first = _create(repository)
    with pytest.raises(
        Conflict, match=f"fraud@production already has rollout {first.id} to v2 \\(running\\)"
    ):
        _create(repository, candidate=3)
    assert _create(repository, candidate=3, alias="staging").state == "running"  # another alias is free
    repository.set_state(first.id, "aborted", "enough")
    assert _create(repository, candidate=3).candidate == 3  # an ended rollout blocks nothing


def test_a_start_from_a_version_the_alias_no_longer_holds_is_refused(registry: Registry) -> None:
    _fraud(registry)
    repository = RolloutRepository(registry.db, "tester")
    with pytest.raises(Conflict, match="fraud@production moved to v1 while the rollout from v3"):
        _create(repository, candidate=2, stable=3)
    with pytest.raises(NotFound, match="model 'frud' not found"):
        repository.create(
            PLAN,
            model="frud",
            alias="production",
            stable=1,
            candidate=2,
            strategy="canary",
            candidate_share=0.05,
        )
    assert repository.history() == []


def test_concurrent_starts_on_one_alias_leave_exactly_one_rollout(registry: Registry) -> None:
    _fraud(registry, versions=5)
    starters = 4
    barrier = threading.Barrier(starters)
    outcomes: list[object] = []

    def start(candidate: int) -> None:
        repository = RolloutRepository(registry.db, f"worker-{candidate}")
        barrier.wait()
        try:
            outcomes.append(_create(repository, candidate=candidate))
        except Conflict as refused:
            outcomes.append(refused)

    threads = [threading.Thread(target=start, args=(candidate,)) for candidate in range(2, 2 + starters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    started = [outcome for outcome in outcomes if not isinstance(outcome, Conflict)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, Conflict)]
    assert len(started) == 1 and len(refused) == starters - 1
    winner = started[0]
    assert all(f"already has rollout {winner.id} to v{winner.candidate}" in str(r) for r in refused)  # type: ignore[attr-defined]
    assert [record.id for record in RolloutRepository(registry.db, "tester").active("fraud")] == [winner.id]  # type: ignore[attr-defined]


def test_state_changes_only_happen_from_the_expected_state(registry: Registry) -> None:
    _fraud(registry)
    repository = RolloutRepository(registry.db, "tester")
    record = _create(repository)
    paused = repository.set_state(record.id, "paused", "looks odd", expect=("running",))
    assert paused.state == "paused" and paused.ended_at is None and paused.active
    with pytest.raises(Conflict, match=f"rollout {record.id} of fraud@production is paused, not running"):
        repository.set_state(record.id, "paused", "again", expect=("running",))
    aborted = repository.set_state(
        record.id, "aborted", "bad latency", candidate_share=0.0, details={"check": "x"}
    )
    assert (aborted.state, aborted.candidate_share, aborted.reason) == ("aborted", 0.0, "bad latency")
    assert aborted.ended_at is not None and not aborted.active
    with pytest.raises(Conflict, match="is aborted, not running or paused \\(bad latency\\)"):
        repository.set_state(record.id, "running", "back")
    with pytest.raises(Conflict, match="is aborted; it takes no step"):
        repository.set_step(record.id, 1, 0.25)
    actions = [event.action for event in registry.audit(action="rollout.")]
    assert actions == ["rollout.start", "rollout.pause", "rollout.abort"]
    assert registry.audit(action="rollout.abort")[0].after == {
        "rollout": record.id,
        "state": "aborted",
        "candidate_share": 0.0,
        "check": "x",
    }
    with pytest.raises(NotFound, match="rollout 999 not found"):
        repository.get(999)


def test_steps_come_back_in_order_with_the_analyses_recorded_during_each(registry: Registry) -> None:
    _fraud(registry)
    repository = RolloutRepository(registry.db, "tester")
    record = _create(repository)
    repository.record_analysis(record.id, 0, {"verdict": "not_enough_data", "results": []})
    repository.record_analysis(record.id, 0, {"verdict": "pass", "results": [{"name": "error_rate"}]})
    moved = repository.set_step(record.id, 1, 0.25)
    assert (moved.step_index, moved.candidate_share) == (1, 0.25)
    repository.record_analysis(record.id, 1, {"verdict": "fail", "results": []})
    steps = repository.steps(record.id)
    assert [(step.step_index, step.candidate_share) for step in steps] == [(0, 0.05), (1, 0.25)]
    assert [analysis["verdict"] for analysis in steps[0].analyses] == ["not_enough_data", "pass"]
    assert [analysis["verdict"] for analysis in steps[1].analyses] == ["fail"]
    assert steps[1].to_dict()["analyses"][0]["at"]
    assert [r.id for r in repository.history("fraud")] == [record.id] and repository.history("other") == []


def _alembic(url: str, revision: str, *, down: bool = False) -> None:
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(resources.files("shipyard.store") / "migrations"))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)
        connection.commit()
    engine.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_rollouts_migration_upgrades_and_downgrades(workspace: Path, registry_url: str) -> None:
    rollout_tables = {"rollouts", "rollout_steps", "rollout_analyses"}
    _alembic(registry_url, "0009_drift_figures")
    assert not rollout_tables & _tables(registry_url)
    with Registry(home=workspace, registry_url=registry_url) as registry:  # opening migrates to the head
        assert registry.db.current_revision() == HEAD_REVISION
        _fraud(registry)
        _create(RolloutRepository(registry.db, "tester"))
    assert rollout_tables <= _tables(registry_url)
    _alembic(registry_url, "0009_drift_figures", down=True)
    assert not rollout_tables & _tables(registry_url)
    with Registry(home=workspace, registry_url=registry_url) as registry:
        assert registry.resolve("fraud@production").version == 1  # the rest survived both ways
        assert RolloutRepository(registry.db, "tester").history() == []
