"""The loop closing beside a real ``shipyard serve``: labels sent to the server's /v1/feedback trigger the
model's retraining policy, watched by the server's own retraining runner, which trains, gates and starts a
rollout with no command typed."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shipyard import Registry, rollouts
from shipyard.store.retrain_runs import RetrainRunRecord, RetrainRunRepository
from tests.models import transactions
from tests.retraining.workspace import champion_workspace
from tests.serving.conftest import start_server, stop_server

POLICY = """
[retraining.fraud]
spec = "spec.toml"
window = "30d"
data = { source = "dataset", name = "fresh", time_column = "ts" }
rollout = { strategy = "canary", steps = [20, 100], interval = "1h" }
triggers = { new_labels = 3 }
guards = { min_rows = 100, cooldown = "1h" }
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return champion_workspace(tmp_path / "ws", POLICY, now=datetime.now(UTC))


def finished_runs(home: Path) -> list[RetrainRunRecord]:
    with Registry(home=home) as registry:
        runs = RetrainRunRepository(registry.db, "tester").history("fraud")
    return [run for run in runs if run.state != "running"]


@pytest.mark.slow
def test_labels_sent_to_the_server_retrain_the_model_and_start_its_rollout(home: Path) -> None:
    server = start_server(home, ["fraud@production"], "--no-monitor", "--retrain-interval", "1", workers=1)
    try:
        assert "watching the retraining triggers of fraud every 1 s" in server.log_text()
        rows = transactions(seed=2).head(3)[["amount", "channel", "hour"]].to_dict(orient="records")
        with server.client() as client:
            answer = client.post("/v1/models/fraud/predict", json={"records": rows})
            assert answer.status_code == 200, answer.text
            ids = answer.json()["prediction_ids"]
            labels = [{"prediction_id": identifier, "label": 1} for identifier in ids]
            sent = client.post("/v1/feedback", json={"labels": labels})
            assert sent.status_code == 200 and sent.json()["attached"] == 3, sent.text
        deadline = time.monotonic() + 150
        while not finished_runs(home) and time.monotonic() < deadline:
            time.sleep(0.5)
        runs = finished_runs(home)
        assert len(runs) == 1, server.log_text()
        (run,) = runs
        assert (run.trigger, run.state, run.details["candidate"]) == ("labels", "succeeded", "fraud/2")
        assert run.trigger_detail == {"new_labels": 3, "threshold": 3}
        with Registry(home=home) as registry:
            (rollout,) = rollouts.status(registry, "fraud")
        assert (rollout.id, rollout.candidate) == (run.details["rollout"], 2)
    finally:
        stop_server(server)
