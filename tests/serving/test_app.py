"""The app in-process (TestClient runs its lifespan): the prediction-log seam and load failures."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from shipyard import Registry
from shipyard.gates import promote
from shipyard.serving.app import build_app
from shipyard.serving.config import ServeConfig
from shipyard.serving.prediction_log import PredictionRecord
from shipyard.training import train
from tests.models import transactions
from tests.serving.conftest import fraud_spec

ROW = {"amount": 42.0, "channel": "web", "hour": 3}


class MemorySink:
    def __init__(self) -> None:
        self.records: list[PredictionRecord] = []

    def submit(self, record: PredictionRecord) -> None:
        self.records.append(record)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "ws"
    with Registry(home=home) as registry:
        registry.datasets.add("tx", transactions(rows=400))
        train(fraud_spec(), registry=registry, progress=False)
        promote(registry, "fraud/1", "production")
        train(fraud_spec(C=0.3), registry=registry, progress=False)
    return home


def test_every_answered_prediction_reaches_the_sink(home: Path) -> None:
    sink = MemorySink()
    app = build_app(ServeConfig(references=["fraud@production"], home=str(home)), sink=sink)
    with TestClient(app) as client:
        answer = client.post("/v1/models/fraud/predict", json={"records": [ROW, ROW]}).json()
        client.post("/invocations", json={"dataframe_records": [ROW]})
        client.post("/v1/models/fraud/predict", json={"records": [{"amount": "x"}]})  # rejected: not logged
    assert [record.protocol for record in sink.records] == ["native", "mlflow"]
    first = sink.records[0]
    assert first.request_id == answer["request_id"] and first.prediction_ids == answer["prediction_ids"]
    assert (first.model, first.version, len(first.inputs)) == ("fraud", 1, 2)
    assert first.predictions.tolist() == answer["predictions"] and first.latency_seconds > 0


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(home: Path) -> None:
    app = build_app(ServeConfig(references=["fraud@production"], home=str(home), refresh_seconds=0.2))
    with Registry(home=home) as registry, TestClient(app) as client:
        broken = registry.resolve("fraud/2")
        stored = Path(registry.artifacts.object_path(broken.artifact_sha256))
        stored.write_bytes(stored.read_bytes()[:-10])
        registry.set_alias("fraud", "production", 2, reason="a broken release")
        deadline = time.monotonic() + 5
        ready = client.get("/health/ready").json()
        while ready["models"]["fraud"]["error"] is None and time.monotonic() < deadline:
            time.sleep(0.1)
            ready = client.get("/health/ready").json()
        assert "fraud/2 failed to load or warm" in ready["models"]["fraud"]["error"]
        assert "corrupted" in ready["models"]["fraud"]["error"]
        response = client.post("/v1/models/fraud/predict", json={"records": [ROW]})
        assert response.status_code == 200 and response.json()["version"] == 1


def test_startup_moves_long_lived_objects_out_of_the_collectors_reach(home: Path) -> None:
    """A full collection over libraries and models stalled requests ~200 ms; frozen, they are skipped."""
    gc.unfreeze()
    app = build_app(ServeConfig(references=["fraud@production"], home=str(home)))
    try:
        with TestClient(app) as client:
            assert gc.get_freeze_count() > 10_000
            assert client.post("/v1/models/fraud/predict", json={"records": [ROW]}).status_code == 200
    finally:
        gc.unfreeze()
