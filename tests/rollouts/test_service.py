"""The rollouts service on a real registry (SQLite and PostgreSQL): what start checks before any traffic
moves, the guarded transitions with their audit entries, what servers read, and hand-moved aliases."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard import Conflict, InvalidInput, NotFound, Registry, Unauthorized
from shipyard.contracts import Contract
from shipyard.registry.metadata import VersionMetadata
from shipyard.rollouts import RolloutPlan, RoutingKey
from shipyard.rollouts import service as rollouts
from shipyard.rollouts.routing import Split
from shipyard.store.rollouts import RolloutRepository
from shipyard.training import train
from tests.models import classification_frame, tiny_classifier, transactions
from tests.rollouts.traffic import fraud_versions


class Exploding:
    """Loads fine, raises on every prediction."""

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        raise ValueError("the model exploded")


def _plan(candidate: int = 2, **keys: object) -> RolloutPlan:
    return RolloutPlan.from_dict({"to": candidate, **keys}, model="fraud")


def test_start_records_a_canary_at_its_first_step_and_servers_read_its_split(registry: Registry) -> None:
    fraud_versions(registry)
    rollout = rollouts.start(registry, _plan(routing_key="header:X-Customer-Id"), reason="v2 is better")
    assert (rollout.state, rollout.stable, rollout.candidate, rollout.candidate_share) == (
        "running",
        1,
        2,
        0.05,
    )
    assert rollout.plan == _plan(routing_key="header:X-Customer-Id")
    split = rollouts.active_split(registry, "fraud", "production")
    assert split == Split(rollout.id, 1, 2, 0.05, shadow=False, key=RoutingKey("header", "X-Customer-Id"))
    assert rollouts.active_split(registry, "fraud", "staging") is None
    assert (
        [r.id for r in rollouts.status(registry)]
        == [rollout.id]
        == [r.id for r in rollouts.status(registry, "fraud")]
    )
    assert registry.resolve("fraud@production").version == 1  # no alias moves at the start
    [event] = registry.audit(action="rollout.")
    assert (event.action, event.reason) == ("rollout.start", "v2 is better")
    assert event.after is not None
    assert (
        event.after["candidate_check"]["source"] == "contract" and event.after["candidate_check"]["rows"] == 3
    )


def test_a_shadow_rollout_mirrors_everything_and_answers_nothing(registry: Registry) -> None:
    fraud_versions(registry)
    rollout = rollouts.start(registry, {"model": "fraud", "to": 3, "strategy": "shadow"})
    split = rollout.split()
    assert split is not None and split.shadow and split.candidate_share == 0.0 and split.candidate == 3


def test_start_refuses_what_cannot_roll_out_and_records_nothing(registry: Registry) -> None:
    fraud_versions(registry)
    with pytest.raises(NotFound, match="version 9"):
        rollouts.start(registry, _plan(9))
    with pytest.raises(NotFound, match="alias 'canary'.*shipyard alias set fraud@canary <version>"):
        rollouts.start(registry, _plan(alias="canary"))
    with pytest.raises(
        InvalidInput, match="fraud@production already holds v1; a rollout moves it to another"
    ):
        rollouts.start(registry, _plan(1))
    with pytest.raises(NotFound, match="model 'frud' not found"):
        rollouts.start(registry, RolloutPlan(model="frud", candidate=2))
    assert rollouts.history(registry) == [] and registry.audit(action="rollout.") == []


def test_a_candidate_that_fails_to_predict_is_refused_before_any_traffic_moves(registry: Registry) -> None:
    frame, _ = classification_frame()
    contract = Contract.infer(frame).to_dict()
    registry.register("boom", tiny_classifier(), reference=frame)
    registry.register("boom", Exploding(), metadata=VersionMetadata(input_schema=contract))
    registry.set_alias("boom", "production", 1)
    plan = RolloutPlan(model="boom", candidate=2)
    with pytest.raises(Unauthorized, match="trust=True"):
        rollouts.start(registry, plan)  # a python model runs code on load: trust is the caller's call
    with pytest.raises(
        InvalidInput,
        match="boom/2 cannot take traffic: it failed to predict on 3 rows of its contract "
        "\\(the model exploded\\); no rollout was started",
    ):
        rollouts.start(registry, plan, trust=True)
    assert rollouts.history(registry) == [] and rollouts.active_split(registry, "boom") is None


def test_a_candidate_that_fails_to_load_is_refused(registry: Registry) -> None:
    fraud_versions(registry)
    candidate = registry.get_version("fraud", 2)
    stored = Path(registry.artifacts.object_path(candidate.artifact_sha256))
    stored.write_bytes(b"not the model that was registered")
    with pytest.raises(InvalidInput, match="fraud/2 cannot take traffic: it failed to load \\(.*"):
        rollouts.start(registry, _plan(2))
    assert rollouts.history(registry) == []


def test_a_second_rollout_on_the_alias_is_refused_naming_the_first(registry: Registry) -> None:
    fraud_versions(registry)
    first = rollouts.start(registry, _plan(2))
    with pytest.raises(
        Conflict,
        match=f"fraud@production already has rollout {first.id} to v2 \\(running\\); finish it first with "
        "'shipyard rollout promote fraud' or 'shipyard rollout abort fraud'",
    ):
        rollouts.start(registry, _plan(3))


def test_two_concurrent_starts_on_one_alias_leave_one_rollout(registry: Registry) -> None:
    fraud_versions(registry)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def start(candidate: int) -> None:
        barrier.wait()
        try:
            outcomes.append(rollouts.start(registry, _plan(candidate)))
        except Conflict as refused:
            outcomes.append(refused)

    threads = [threading.Thread(target=start, args=(candidate,)) for candidate in (2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    refused = [outcome for outcome in outcomes if isinstance(outcome, Conflict)]
    [winner] = rollouts.status(registry, "fraud")
    assert len(outcomes) == 2 and len(refused) == 1
    assert f"already has rollout {winner.id} to v{winner.candidate}" in str(refused[0])


def test_pause_and_resume_hold_and_release_the_current_step(registry: Registry) -> None:
    fraud_versions(registry)
    started = rollouts.start(registry, _plan())
    paused = rollouts.pause(registry, "fraud", reason="checking a dashboard")
    assert (paused.state, paused.reason) == ("paused", "checking a dashboard")
    assert rollouts.active_split(registry, "fraud") == started.split()  # a pause keeps the split
    with pytest.raises(Conflict, match=f"rollout {started.id} of fraud@production is paused, not running"):
        rollouts.pause(registry, "fraud")
    assert rollouts.resume(registry, "fraud").state == "running"
    with pytest.raises(Conflict, match="is running, not paused"):
        rollouts.resume(registry, "fraud")
    actions = [(e.action, e.reason) for e in registry.audit(action="rollout.")]
    assert actions == [
        ("rollout.start", ""),
        ("rollout.pause", "checking a dashboard"),
        ("rollout.resume", ""),
    ]


def test_promote_moves_the_alias_to_the_candidate_and_ends_the_rollout(registry: Registry) -> None:
    fraud_versions(registry)
    started = rollouts.start(registry, _plan())
    promoted = rollouts.promote(registry, "fraud", reason="looks good")
    assert (promoted.state, promoted.candidate_share) == ("promoted", 1.0) and promoted.ended_at is not None
    assert registry.resolve("fraud@production").version == 2
    move = registry.alias_history("fraud", "production")[-1]
    assert (move.action, move.previous_version, move.version) == ("promote", 1, 2)
    assert move.reason == f"rollout {started.id} promoted v2: looks good"
    assert rollouts.active_split(registry, "fraud") is None and rollouts.status(registry) == []
    event = registry.audit(action="rollout.promote")[0]
    assert event.reason == "looks good" and event.after is not None and event.after["state"] == "promoted"
    with pytest.raises(NotFound, match="fraud@production has no active rollout"):
        rollouts.promote(registry, "fraud")


def test_abort_sends_everything_back_to_stable_and_says_why(registry: Registry) -> None:
    fraud_versions(registry)
    rollouts.start(registry, _plan())
    aborted = rollouts.abort(registry, "fraud", reason="p99 doubled")
    assert (aborted.state, aborted.candidate_share, aborted.reason) == ("aborted", 0.0, "p99 doubled")
    assert registry.resolve("fraud@production").version == 1
    assert rollouts.active_split(registry, "fraud") is None
    event = registry.audit(action="rollout.abort")[0]
    assert event.reason == "p99 doubled" and event.before == {"state": "running", "candidate_share": 0.05}
    rollouts.start(registry, _plan(3))
    assert rollouts.abort(registry, "fraud").reason == "aborted by tester"


def test_an_alias_moved_by_hand_stops_the_rollout_with_the_reason(registry: Registry) -> None:
    fraud_versions(registry)
    started = rollouts.start(registry, _plan())
    registry.set_alias("fraud", "production", 3, reason="hotfix")
    assert rollouts.active_split(registry, "fraud") is None  # the alias wins at once
    [stopped] = rollouts.reconcile(registry)
    assert stopped.id == started.id and stopped.state == "stopped" and stopped.candidate_share == 0.0
    assert stopped.reason == (
        "fraud@production was moved to v3 by tester (hotfix) during the rollout from v1 to v2; "
        "the rollout stopped and traffic follows the alias"
    )
    assert rollouts.reconcile(registry) == []
    assert rollouts.start(registry, _plan(2)).stable == 3  # the alias is free again, from where it is now


def test_a_promotion_interrupted_after_the_alias_moved_is_settled_as_promoted(registry: Registry) -> None:
    fraud_versions(registry)
    started = rollouts.start(registry, _plan())
    registry.set_alias("fraud", "production", 2, action="promote", reason=f"rollout {started.id} promoted v2")
    [settled] = rollouts.reconcile(registry, model="fraud")
    assert settled.state == "promoted"


def test_pause_after_a_hand_move_says_there_is_no_active_rollout(registry: Registry) -> None:
    fraud_versions(registry)
    rollouts.start(registry, _plan())
    registry.delete_alias("fraud", "production")
    with pytest.raises(NotFound, match="fraud@production has no active rollout"):
        rollouts.pause(registry, "fraud")
    [stopped] = rollouts.history(registry, "fraud")
    assert stopped.state == "stopped" and "was moved away (deleted) by tester" in stopped.reason


def test_history_lists_each_rollout_with_its_steps_and_analyses(registry: Registry) -> None:
    fraud_versions(registry)
    first = rollouts.start(registry, _plan())
    repository = RolloutRepository(registry.db, "controller")
    repository.record_analysis(first.id, 0, {"verdict": "pass", "results": []})
    repository.set_step(first.id, 1, 0.25)
    rollouts.abort(registry, "fraud", reason="enough")
    second = rollouts.start(registry, _plan(3, strategy="blue_green"))
    newest, oldest = rollouts.history(registry, "fraud")
    assert (newest.id, newest.strategy, newest.candidate_share) == (second.id, "blue_green", 1.0)
    assert [(s.step_index, s.candidate_share, s.actor) for s in oldest.steps] == [
        (0, 0.05, "tester"),
        (1, 0.25, "controller"),
    ]
    assert oldest.steps[0].analyses[0]["verdict"] == "pass"
    assert oldest.to_dict()["steps"][1]["candidate_share"] == 0.25
    assert rollouts.get(registry, first.id).steps == oldest.steps
    assert [r.id for r in rollouts.history(registry, limit=1)] == [second.id]


def test_a_trained_candidate_is_checked_on_its_holdout_rows(workspace: Path) -> None:
    features = ["amount", "channel", "hour"]
    spec = {
        "model": "fraud",
        "seed": 3,
        "data": {"dataset": "tx", "target": "fraud", "features": features},
        "estimator": {"class": "sklearn.linear_model.LogisticRegression"},
        "cv": {"folds": 2},
    }
    with Registry(home=workspace) as registry:
        registry.datasets.add("tx", transactions(rows=200))
        train(spec, registry=registry, progress=False)
        train({**spec, "seed": 4}, registry=registry, progress=False)
        registry.set_alias("fraud", "production", 1)
        rollouts.start(registry, _plan(2))
        check = registry.audit(action="rollout.start")[0].after["candidate_check"]  # type: ignore[index]
    assert (check["ref"], check["source"], check["rows"]) == ("fraud/2", "holdout", 8)
