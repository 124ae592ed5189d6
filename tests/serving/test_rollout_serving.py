"""Rollouts through the server's protocols, in-process (Starlette's TestClient runs the app and its lifespan
on one event loop): every protocol routes alike, says which arm answered in ``X-Shipyard-Arm``, logs the
same arm, documents the header, and a split that changes under traffic fails no request."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.testclient import TestClient

from shipyard import Registry
from shipyard.gates import promote
from shipyard.rollouts.plan import RoutingKey
from shipyard.rollouts.routing import Split
from shipyard.server import ServeConfig, create_app
from shipyard.serving.engine import Engine
from shipyard.training import train
from tests.models import transactions
from tests.serving.conftest import fraud_spec
from tests.serving.test_app import ROW, MemorySink

JSON = {"content-type": "application/json"}
OIP_BODY = {
    "inputs": [
        {"name": "amount", "shape": [1], "datatype": "FP64", "data": [42.0]},
        {"name": "channel", "shape": [1], "datatype": "BYTES", "data": ["web"]},
        {"name": "hour", "shape": [1], "datatype": "INT64", "data": [3]},
    ]
}
#: One request per protocol: (path, body, headers) and how to read the answering version from the response.
REQUESTS: dict[str, tuple[str, bytes, dict[str, str]]] = {
    "native": ("/v1/models/fraud/predict", orjson.dumps({"records": [ROW]}), JSON),
    "mlflow": ("/invocations", orjson.dumps({"dataframe_records": [ROW]}), JSON),
    "mlflow-csv": ("/invocations", b"amount,channel,hour\n42.0,web,3\n", {"content-type": "text/csv"}),
    "oip": ("/v2/models/fraud/infer", orjson.dumps(OIP_BODY), JSON),
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("rollout-serving") / "ws"
    with Registry(home=home) as registry:
        registry.datasets.add("tx", transactions(rows=400))
        train(fraud_spec(), registry=registry, progress=False)
        promote(registry, "fraud/1", "production")
        train(fraud_spec(C=0.3), registry=registry, progress=False)
    return home


@pytest.fixture
def served(home: Path) -> Iterator[tuple[TestClient, MemorySink]]:
    sink = MemorySink()
    app = create_app(ServeConfig(references=["fraud@production"], home=str(home)), sink=sink)
    with TestClient(app) as client:
        yield client, sink


def _engine(client: TestClient) -> Engine:
    engine: Engine = client.app.state.server.engine  # type: ignore[attr-defined]
    return engine


def _set_split(client: TestClient, split: Split | None) -> None:
    assert client.portal is not None
    client.portal.call(_engine(client).set_split, "fraud", split)


def _split(share: float, **more: Any) -> Split:
    return Split("ro-9", stable=1, candidate=2, candidate_share=share, **more)


def _post(client: TestClient | httpx.Client, protocol: str, **headers: str) -> httpx.Response:
    path, body, base = REQUESTS[protocol]
    return client.post(path, content=body, headers={**base, **headers})


@pytest.mark.parametrize("protocol", list(REQUESTS))
def test_every_protocol_routes_to_the_candidate_and_says_so(
    served: tuple[TestClient, MemorySink], protocol: str
) -> None:
    client, sink = served
    before = _post(client, protocol)
    _set_split(client, _split(1.0))
    during = _post(client, protocol)
    _set_split(client, None)
    after = _post(client, protocol)

    assert [r.status_code for r in (before, during, after)] == [200, 200, 200]
    assert [r.headers["x-shipyard-arm"] for r in (before, during, after)] == ["stable", "canary", "stable"]
    assert [(record.arm, record.version) for record in sink.records] == [
        ("stable", 1),
        ("canary", 2),
        ("stable", 1),
    ]
    assert [record.request_id for record in sink.records] == [
        r.headers["x-prediction-id"] for r in (before, during, after)
    ]


def test_a_refused_request_is_logged_and_answered_with_the_arm_it_went_to(
    served: tuple[TestClient, MemorySink],
) -> None:
    client, sink = served
    _set_split(client, _split(1.0))
    rejected = client.post("/v1/models/fraud/predict", json={"records": [{**ROW, "amount": "x"}]})
    unreadable = client.post("/v1/models/fraud/predict", content=b"{oops", headers=JSON)

    assert rejected.status_code == 422 and rejected.headers["x-shipyard-arm"] == "canary"
    assert unreadable.status_code == 400 and "x-shipyard-arm" not in unreadable.headers  # never routed
    assert [(f.status, f.arm, f.version) for f in sink.failures] == [(422, "canary", 2), (400, "stable", 1)]


def test_a_routing_header_keeps_each_customer_on_one_arm_on_every_protocol(
    served: tuple[TestClient, MemorySink],
) -> None:
    client, _ = served
    _set_split(client, _split(0.5, key=RoutingKey("header", "X-Customer-Id")))
    arms: dict[str, set[str]] = {}
    for customer in [f"customer-{n}" for n in range(30)]:
        for protocol in REQUESTS:
            response = _post(client, protocol, **{"x-customer-id": customer})
            arms.setdefault(customer, set()).add(response.headers["x-shipyard-arm"])
    assert all(len(seen) == 1 for seen in arms.values())
    assert {arm for seen in arms.values() for arm in seen} == {"stable", "canary"}


def test_a_shadow_answer_is_logged_beside_the_answer_returned(served: tuple[TestClient, MemorySink]) -> None:
    client, sink = served
    _set_split(client, _split(0.0, shadow=True))
    response = _post(client, "native")
    _set_split(client, None)  # drains the candidate: its answer to the copy is in by now

    assert response.headers["x-shipyard-arm"] == "stable" and response.json()["version"] == 1
    answered = {record.arm: record for record in sink.records}
    assert set(answered) == {"stable", "shadow"}
    shadow, stable = answered["shadow"], answered["stable"]
    assert (shadow.version, shadow.request_id, shadow.protocol) == (2, stable.request_id, "native")
    assert shadow.prediction_ids == [f"{pid}-shadow" for pid in response.json()["prediction_ids"]]
    assert shadow.probabilities is not None


def test_requests_metrics_carry_the_arm(served: tuple[TestClient, MemorySink]) -> None:
    client, _ = served
    _set_split(client, _split(1.0))
    _post(client, "oip")
    text = client.get("/metrics").text
    series = 'arm="canary",model="fraud",protocol="oip",status="200",version="2"'
    assert f"shipyard_requests_total{{{series}}}" in text


def test_the_openapi_document_lists_the_headers_each_prediction_answer_carries(
    served: tuple[TestClient, MemorySink],
) -> None:
    client, _ = served
    document = client.get("/openapi.json").json()
    _set_split(client, _split(1.0))
    answers = [
        ("/v1/models/{name}/predict", _post(client, "native")),
        ("/invocations", _post(client, "mlflow")),
        ("/v2/models/{name}/infer", _post(client, "oip")),
        ("/v1/models/{name}/predict", client.post("/v1/models/fraud/predict", json={"records": [{}]})),
        ("/invocations", client.post("/invocations", content=b"{oops", headers=JSON)),
        ("/v2/models/{name}/versions/{version}/infer", client.post("/v2/models/fraud/versions/7/infer")),
    ]
    for route, response in answers:
        documented = document["paths"][route]["post"]["responses"][str(response.status_code)]
        names = {name.lower(): spec for name, spec in documented.get("headers", {}).items()}
        for header in ("x-prediction-id", "x-shipyard-arm"):
            if header in response.headers:
                assert header in names, f"{route} answers {response.status_code} with {header}, undocumented"
        if "x-shipyard-arm" in response.headers:
            assert response.headers["x-shipyard-arm"] in names["x-shipyard-arm"]["schema"]["enum"]
    assert {response.headers.get("x-shipyard-arm") for _, response in answers} == {"canary", None}


def test_a_split_changing_under_traffic_fails_no_request_and_the_log_agrees(
    served: tuple[TestClient, MemorySink],
) -> None:
    """A client thread keeps predicting over every protocol while the split goes 5% → 50% → 100% → none."""
    client, sink = served
    responses: list[httpx.Response] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            for protocol in REQUESTS:
                responses.append(_post(client, protocol))

    thread = threading.Thread(target=traffic)
    thread.start()
    try:
        for share in (0.05, 0.5, 1.0, None, 0.5, None):
            stop.wait(0.3)
            _set_split(client, None if share is None else _split(share))
        stop.wait(0.3)
    finally:
        stop.set()
        thread.join()

    assert len(responses) > 40 and [r.status_code for r in responses if r.status_code != 200] == []
    headers = {r.headers["x-prediction-id"]: r.headers["x-shipyard-arm"] for r in responses}
    logged = {record.request_id: record.arm for record in sink.records}
    assert logged == headers
    assert set(headers.values()) == {"stable", "canary"}
    assert all(record.version == (2 if record.arm == "canary" else 1) for record in sink.records)


def test_readiness_shows_the_rollout_each_model_is_routed_by(served: tuple[TestClient, MemorySink]) -> None:
    client, _ = served
    assert client.get("/health/ready").json()["models"]["fraud"]["rollout"] is None
    _set_split(client, _split(0.0, shadow=True, key=RoutingKey("column", "channel")))
    shown = client.get("/health/ready").json()["models"]["fraud"]
    assert shown == {
        "version": 1,
        "error": None,
        "rollout": {
            "rollout_id": "ro-9",
            "stable": 1,
            "candidate": 2,
            "candidate_share": 0.0,
            "shadow": True,
            "key": "column:channel",
            "arm": "shadow",
        },
    }
    document = client.get("/openapi.json").json()
    assert set(document["components"]["schemas"]["Rollout"]["required"]) == set(shown["rollout"])
