"""Two controllers on one database (two ``shipyard serve`` processes each running the rollout runner) judge
a step exactly once: one records the analysis and acts on it, the other's pass sees it and does nothing.
On real SQLite and PostgreSQL, with the controllers in threads of their own, each with its own registry."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shipyard import Conflict, Registry
from shipyard.predictions import PredictionLog
from shipyard.rollouts import RolloutPlan, advance
from shipyard.rollouts import service as rollouts
from shipyard.rollouts.controller import Transition, step_clock
from shipyard.store.rollouts import RolloutRepository
from tests.rollouts.traffic import answered, failed, fraud_versions, write


def _plan(**keys: object) -> RolloutPlan:
    return RolloutPlan.from_dict({"to": 2, "interval": 60, "min_requests": 20, **keys}, model="fraud")


def _race(workspace: Path, registry_url: str, log_url: str, now: datetime) -> list[Transition]:
    """Two controllers, each with its own registry (its own connections), run one pass at the same moment."""
    controllers = 2
    barrier = threading.Barrier(controllers)
    done: list[Transition] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with Registry(home=workspace, registry_url=registry_url) as mine:
                log = PredictionLog(log_url)
                barrier.wait()
                done.extend(advance(mine, log, now=now))
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(controllers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return done


@pytest.mark.parametrize("verdict", ["pass", "fail"])
def test_two_controllers_analysing_one_step_at_once_record_one_analysis(
    registry: Registry, registry_url: str, workspace: Path, tmp_path: Path, verdict: str
) -> None:
    """A pass takes one step (not two), a failure under failure_limit waits once: one analysis either way."""
    fraud_versions(registry, 2)
    log_url = str(tmp_path / "logs")
    # error_rate may fail twice before it aborts, so a failed analysis leaves the rollout running.
    checks = {"error_rate": {"failure_limit": 2}}
    for attempt in range(3):  # several races: each must leave exactly one analysis
        started = rollouts.start(registry, _plan(checks=checks))
        began = step_clock(started).running_since
        at = began + timedelta(milliseconds=100)
        write(
            log_url,
            answered(30, version=1, arm="stable", at=at) + answered(30, version=2, arm="canary", at=at),
            failed(10, version=2, arm="canary", at=at) if verdict == "fail" else (),
        )
        # The next step, taken by the race, begins after this: a minute later its analysis is still not due,
        # so a second analysis could only be a second one of step 1.
        time.sleep(max(0.0, (began + timedelta(seconds=0.4) - datetime.now(UTC)).total_seconds()))
        transitions = _race(workspace, registry_url, log_url, began + timedelta(seconds=60.2))
        after = rollouts.get(registry, started.id)
        analyses = [
            (step.step_index, analysis["verdict"]) for step in after.steps for analysis in step.analyses
        ]
        assert analyses == [(0, verdict)], f"race {attempt + 1}"
        assert len(transitions) == 1
        if verdict == "pass":
            assert (transitions[0].action, after.step_index) == ("step", 1)
            assert len(registry.audit(action="rollout.step")) == attempt + 1
        else:
            assert (transitions[0].action, after.step_index) == ("wait", 0)
        rollouts.abort(registry, "fraud", reason="next race")


def test_an_analysis_is_recorded_only_after_the_analyses_its_controller_saw(registry: Registry) -> None:
    """The store's rule under the controllers: (rollout, step, number of analyses before) is kept once, and
    never for a step the rollout has left."""
    fraud_versions(registry, 2)
    started = rollouts.start(registry, _plan())
    repository = RolloutRepository(registry.db, "controller")
    analysis = {"verdict": "not_enough_data", "results": [], "figures": {}}
    repository.record_analysis(started.id, 0, analysis, expect_analyses=0)
    with pytest.raises(Conflict, match="has 1 analyses of step 1, not 0: another controller"):
        repository.record_analysis(started.id, 0, analysis, expect_analyses=0)
    repository.record_analysis(started.id, 0, analysis, expect_analyses=1)
    repository.set_step(started.id, 1, 0.25, expect_step=0)
    with pytest.raises(Conflict, match="not running at step 1; another controller moved it on"):
        repository.record_analysis(started.id, 0, analysis, expect_analyses=2)
    rollouts.pause(registry, "fraud")
    with pytest.raises(Conflict, match="is paused at step 2"):
        repository.record_analysis(started.id, 1, analysis, expect_analyses=0)
    recorded = rollouts.get(registry, started.id)
    assert [len(step.analyses) for step in recorded.steps] == [2, 0]
