"""Whole rollouts on a real ``shipyard serve`` (two workers and the rollout runner beside them) under
continuous traffic: a canary walks its steps and is promoted by the controller alone, and a rollout outlives
a server restart; no request fails on the way."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from shipyard import Registry, rollouts
from shipyard.gates import promote
from shipyard.training import train
from tests.models import transactions
from tests.serving.conftest import fraud_spec, start_server, stop_server
from tests.serving.test_rollout_followed import Traffic

pytestmark = pytest.mark.slow

#: Short steps, little data per analysis, and only the checks this test is about: the candidate is the same
#: estimator refitted, so the noise of p99 latency on a busy machine or of drift between two fits is not it.
FAST_CANARY = {
    "model": "fraud",
    "to": 2,
    "steps": [50, 100],
    "interval": "2s",
    "min_requests": 10,
    "checks": {
        "latency_p99": {"enabled": False},
        "prediction_drift": {"enabled": False},
    },
}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    home = tmp_path / "ws"
    with Registry(home=home) as registry:
        registry.datasets.add("tx", transactions(rows=400))
        train(fraud_spec(), registry=registry, progress=False)
        promote(registry, "fraud/1", "production")
        train(fraud_spec(C=0.3), registry=registry, progress=False)
    return home


def wait_for_state(home: Path, rollout_id: int, state: str, *, within: float = 90.0) -> rollouts.Rollout:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with Registry(home=home) as registry:
            rollout = rollouts.get(registry, rollout_id)
        if rollout.state == state:
            return rollout
        time.sleep(0.5)
    raise AssertionError(f"rollout {rollout_id} is {rollout.state} (step {rollout.step_index}), not {state}")


def test_the_controller_walks_a_canary_to_promotion_without_a_failed_request(workspace: Path) -> None:
    server = start_server(workspace, ["fraud@production"], "--rollout-interval", "1", "--no-monitor")
    traffic = Traffic(server.url)
    try:
        traffic.wait_for("before the rollout", {"stable"})
        with Registry(home=workspace) as registry:
            started = rollouts.start(registry, FAST_CANARY, reason="test")
        done = wait_for_state(workspace, started.id, "promoted")
        traffic.wait_for("after the promotion", {"stable"})
        with Registry(home=workspace) as registry:
            assert registry.resolve("fraud@production").version == 2
            steps = rollouts.history(registry, "fraud")[0].steps
        answered_by = httpx.get(f"{server.url}/health/ready", timeout=10).json()["models"]["fraud"]
    finally:
        answers = traffic.stop()
        stop_server(server)
    assert Counter(status for status, _ in answers) == {200: len(answers)}
    assert "canary" in {arm for _, arm in answers}
    answered = [(arm, version) for (_, arm), version in zip(answers, traffic.versions, strict=True)]
    last_canary = max(i for i, (arm, _) in enumerate(answered) if arm == "canary")
    # From the last step on, the old version never answers again, not even between promotion and the alias
    # refresh: the warm candidate takes over at once.
    assert {version for _, version in answered[last_canary:]} == {2}
    assert [step.candidate_share for step in steps] == [0.5, 1.0]
    assert done.ended_at is not None and answered_by["version"] == 2  # the candidate is stable now


def test_a_rollout_outlives_a_server_restart(workspace: Path) -> None:
    with Registry(home=workspace) as registry:
        rollouts.start(registry, {"model": "fraud", "to": 2, "steps": [50, 100], "interval": "1h"})
    for _ in range(2):  # the first server, then its replacement, both route by the stored split
        server = start_server(workspace, ["fraud@production"], "--no-rollouts", "--no-monitor")
        traffic = Traffic(server.url)
        try:
            traffic.wait_for("with the stored split", {"stable", "canary"})
        finally:
            answers = traffic.stop()
            stop_server(server)
        assert Counter(status for status, _ in answers) == {200: len(answers)}
