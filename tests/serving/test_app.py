"""The app in-process (TestClient runs its lifespan): the prediction-log seam and load failures."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from shipyard import Registry
from shipyard.gates import promote
from shipyard.predictions import PredictionLog
from shipyard.server import ServeConfig, create_app
from shipyard.serving.prediction_log import FailedRequest, PredictionRecord, UsageSample
from shipyard.training import train
from tests.models import transactions
from tests.serving.conftest import fraud_spec

ROW = {"amount": 42.0, "channel": "web", "hour": 3}


class MemorySink:
    def __init__(self) -> None:
        self.records: list[PredictionRecord] = []
        self.failures: list[FailedRequest] = []

    def submit(self, record: PredictionRecord) -> None:
        self.records.append(record)

    def submit_failure(self, failure: FailedRequest) -> None:
        self.failures.append(failure)

    def submit_usage(self, sample: UsageSample) -> None:
        raise AssertionError("a server given its own sink samples no usage for it")

    def flush(self) -> None:
        return None


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
    app = create_app(ServeConfig(references=["fraud@production"], home=str(home)), sink=sink)
    with TestClient(app) as client:
        answer = client.post("/v1/models/fraud/predict", json={"records": [ROW, ROW]}).json()
        client.post("/invocations", json={"dataframe_records": [ROW]})
        rejected = client.post("/v1/models/fraud/predict", json={"records": [{**ROW, "amount": "x"}, ROW]})
        client.post(
            "/v1/models/fraud/predict", content=b"{not json", headers={"content-type": "application/json"}
        )
        client.post("/v1/models/nope/predict", json={"records": [ROW]})  # not served: nowhere to count it
    assert [record.protocol for record in sink.records] == ["native", "mlflow"]
    first = sink.records[0]
    assert first.request_id == answer["request_id"] and first.prediction_ids == answer["prediction_ids"]
    assert (first.model, first.version, len(first.inputs)) == ("fraud", 1, 2)
    assert first.predictions.tolist() == answer["predictions"] and first.latency_seconds > 0
    assert first.batch_rows >= 2
    refused, unreadable = sink.failures
    assert (refused.request_id, refused.version, refused.status, refused.error, refused.rows) == (
        rejected.headers["x-prediction-id"],
        1,
        422,
        "rejected",
        2,
    )
    assert [(row, column) for row, column, _ in refused.problems] == [(0, "amount")]
    assert (unreadable.status, unreadable.error, unreadable.rows, unreadable.problems) == (
        400,
        "invalid",
        0,
        (),
    )


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(home: Path) -> None:
    app = create_app(ServeConfig(references=["fraud@production"], home=str(home), refresh_seconds=0.2))
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
    app = create_app(ServeConfig(references=["fraud@production"], home=str(home)))
    try:
        with TestClient(app) as client:
            assert gc.get_freeze_count() > 10_000
            assert client.post("/v1/models/fraud/predict", json={"records": [ROW]}).status_code == 200
    finally:
        gc.unfreeze()


def test_answered_predictions_are_logged_and_labels_attach_to_them(home: Path) -> None:
    app = create_app(ServeConfig(references=["fraud@production"], home=str(home)))
    with TestClient(app) as client:
        answer = client.post("/v1/models/fraud/predict", json={"records": [ROW, {**ROW, "hour": 4}]}).json()
        rejected = client.post("/v1/models/fraud/predict", json={"records": [{"amount": "x"}]})
        ids = answer["prediction_ids"]
        report = client.post(
            "/v1/feedback",
            json={"labels": [{"prediction_id": ids[0], "label": 1}, {"prediction_id": "nope", "label": 0}]},
        )
        malformed = client.post(
            "/v1/feedback", content=b"{not json", headers={"content-type": "application/json"}
        )
        wrong_shape = client.post("/v1/feedback", json={"ids": ids})
    assert rejected.status_code == 422
    assert report.status_code == 200
    body = report.json()
    assert (body["attached"], body["unknown"]) == (1, 1)
    assert body["problems"] == [
        {
            "row": 1,
            "prediction_id": "nope",
            "status": "unknown",
            "message": "no logged prediction has this id",
        }
    ]
    assert malformed.status_code == 400 and "JSON" in malformed.json()["error"]
    assert wrong_shape.status_code == 400 and "prediction_id" in wrong_shape.json()["error"]
    with Registry(home=home) as registry:
        logged = PredictionLog(registry.settings.log_url).scan("fraud")
    assert logged is not None and logged["prediction_id"].to_pylist() == ids  # the rejected request is not
    row = logged["inputs"].combine_chunks()
    assert row.field("hour").to_pylist() == [3, 4] and row.field("channel").to_pylist() == ["web", "web"]


def test_no_log_leaves_the_prediction_log_empty(home: Path) -> None:
    app = create_app(ServeConfig(references=["fraud@production"], home=str(home), log_predictions=False))
    with TestClient(app) as client:
        assert client.post("/v1/models/fraud/predict", json={"records": [ROW]}).status_code == 200
    with Registry(home=home) as registry:
        assert PredictionLog(registry.settings.log_url).scan("fraud") is None


def test_every_error_kind_the_server_logs_is_a_monitored_figure() -> None:
    from shipyard.predictions.events import FAILURE_KINDS
    from shipyard.serving.recorder import ERROR_KINDS

    assert sorted([kind for _, kind in ERROR_KINDS] + ["internal"]) == sorted(FAILURE_KINDS)


def test_an_unexpected_error_is_answered_in_the_protocols_shape_and_counted(home: Path) -> None:
    """One handler answers every failure: a bug in the model path is a 500 in the caller's protocol, recorded
    as an internal failure of the version that would have answered."""
    sink = MemorySink()
    app = create_app(ServeConfig(references=["fraud@production"], home=str(home)), sink=sink)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        app.state.server.engine.predict = broken
        native = client.post("/v1/models/fraud/predict", json={"records": [ROW]})
        oip = client.post("/v2/models/fraud/infer", json={"inputs": []})
        mlflow = client.post("/invocations", json={"dataframe_records": [ROW]})
    assert native.status_code == 500 and native.json() == {
        "error": "the server failed to answer; its log has the details",
        "request_id": native.headers["x-prediction-id"],
    }
    assert oip.status_code == 400  # the codec refused the body before the model was reached
    assert mlflow.status_code == 500 and mlflow.json()["error_code"] == "INTERNAL_ERROR"
    assert "a bug" not in mlflow.text
    assert [(f.protocol, f.status, f.error) for f in sink.failures] == [
        ("native", 500, "internal"),
        ("oip", 400, "invalid"),
        ("mlflow", 500, "internal"),
    ]
