"""The inference server over real HTTP: three protocols, errors, metrics, auth, and slow clients."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.serving.conftest import Server

pytestmark = pytest.mark.slow

ROW = {"amount": 42.0, "channel": "web", "hour": 3}
ROWS = [ROW, {"amount": 3.5, "channel": "pos", "hour": 14}]


def test_native_predict_returns_predictions_probabilities_version_and_ids(server: Server) -> None:
    with server.client() as client:
        response = client.post("/v1/models/fraud/predict", json={"records": ROWS})
        by_columns = client.post(
            "/v1/models/fraud/predict",
            json={"columns": {key: [row[key] for row in ROWS] for key in ROW}, "return_proba": False},
        )
    assert response.status_code == 200
    body = response.json()
    assert (body["model"], body["version"], body["classes"]) == ("fraud", 1, [0, 1])
    assert len(body["predictions"]) == 2 and len(body["probabilities"]) == 2
    assert abs(sum(body["probabilities"][0]) - 1.0) < 1e-9
    assert response.headers["x-prediction-id"] == body["request_id"]
    assert body["prediction_ids"] == [f"{body['request_id']}-0", f"{body['request_id']}-1"]
    assert by_columns.json()["predictions"] == body["predictions"]
    assert "probabilities" not in by_columns.json()


@pytest.mark.parametrize(
    ("payload", "content_type"),
    [
        (
            {
                "dataframe_split": {
                    "columns": ["amount", "channel", "hour"],
                    "data": [[42.0, "web", 3], [3.5, "pos", 14]],
                }
            },
            None,
        ),
        ({"dataframe_records": ROWS}, None),
        ({"instances": ROWS}, None),
        ({"inputs": {key: [row[key] for row in ROWS] for key in ROW}}, None),
        ("amount,channel,hour\n42.0,web,3\n3.5,pos,14\n", "text/csv"),
    ],
)
def test_mlflow_invocations_accepts_every_mlflow_form(
    server: Server, payload: object, content_type: str | None
) -> None:
    with server.client() as client:
        expected = client.post("/v1/models/fraud/predict", json={"records": ROWS}).json()["predictions"]
        if content_type:
            response = client.post(
                "/invocations", content=str(payload), headers={"content-type": content_type}
            )
        else:
            response = client.post("/invocations", json=payload)
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": expected}


def test_mlflow_health_version_and_media_type(server: Server) -> None:
    with server.client() as client:
        assert client.get("/ping").status_code == 200
        assert client.get("/health").status_code == 200
        assert client.get("/version").text.startswith("0.")
        refused = client.post("/invocations", content=b"{}", headers={"content-type": "application/xml"})
    assert refused.status_code == 415


def test_open_inference_protocol_health_metadata_and_infer(server: Server) -> None:
    with server.client() as client:
        assert client.get("/v2/health/live").json() == {"live": True}
        assert client.get("/v2/health/ready").json() == {"ready": True}
        assert client.get("/v2").json()["name"] == "shipyard"
        metadata = client.get("/v2/models/fraud").json()
        assert metadata["name"] == "fraud" and [i["name"] for i in metadata["inputs"]] == [
            "amount",
            "channel",
            "hour",
        ]
        assert client.get("/v2/models/fraud/versions/1/ready").status_code == 200
        inputs = [
            {"name": "amount", "shape": [2], "datatype": "FP64", "data": [42.0, 3.5]},
            {"name": "channel", "shape": [2], "datatype": "BYTES", "data": ["web", "pos"]},
            {"name": "hour", "shape": [2], "datatype": "INT64", "data": [3, 14]},
        ]
        # tritonclient sends no Content-Type: the body is JSON anyway
        response = client.post(
            "/v2/models/fraud/infer", content=httpx.Request("POST", "/", json={"inputs": inputs}).content
        )
        missing = client.post("/v2/models/fraud/versions/7/infer", json={"inputs": inputs})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["model_name"], body["model_version"]) == ("fraud", "1") and body["id"]
    assert [output["name"] for output in body["outputs"]] == ["predict", "predict_proba"]
    assert missing.status_code == 404 and "error" in missing.json()


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b'{"records": []}', 400, "no rows"),
        (b'{"records": [{"amount": 1.0, "channel": "web"}]}', 422, "missing_column"),
        (b'{"records": [{"amount": "lots", "channel": "web", "hour": 3}]}', 422, "wrong_type"),
        (b'{"records": [{"amount": null, "channel": "web", "hour": 3}]}', 422, "null"),
        (b'{"records": [{"amount": 1.0, "channel": "web", "hour": 2.5}]}', 422, "wrong_type"),
    ],
)
def test_bad_input_gets_a_specific_4xx_naming_the_problem(
    server: Server, body: bytes, status: int, fragment: str
) -> None:
    with server.client() as client:
        response = client.post(
            "/v1/models/fraud/predict", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == status, response.text
    assert fragment in response.text


def test_contract_errors_name_row_and_field_but_never_echo_the_payload(server: Server) -> None:
    huge = "x" * 10_000
    with server.client() as client:
        response = client.post(
            "/v1/models/fraud/predict",
            json={"records": [ROW, {"amount": huge, "channel": "web", "hour": 1}]},
        )
    assert response.status_code == 422
    problem = response.json()["problems"][0]
    assert (problem["row"], problem["column"], problem["problem"]) == (1, "amount", "wrong_type")
    assert len(response.text) < 2_000


def test_unknown_model_is_404_and_a_huge_body_is_413(server: Server) -> None:
    with server.client() as client:
        unknown = client.post("/v1/models/fruad/predict", json={"records": ROWS})
        huge = client.post("/v1/models/fraud/predict", content=b"[" + b" " * (50 * 1024 * 1024) + b"]")
    assert unknown.status_code == 404 and "did you mean 'fraud'" in unknown.text
    assert huge.status_code == 413


def test_metrics_count_requests_across_workers(server: Server) -> None:
    with server.client() as client:
        before = _requests_total(client.get("/metrics").text)
        for _ in range(20):
            assert client.post("/v1/models/fraud/predict", json={"records": [ROW]}).status_code == 200
        text = client.get("/metrics").text
    assert _requests_total(text) - before >= 20
    native = 'arm="stable",model="fraud",protocol="native",status="200",version="1"'
    assert f"shipyard_requests_total{{{native}}}" in text
    for family in (
        "shipyard_batch_rows_bucket",
        "shipyard_queue_seconds_bucket",
        "shipyard_compute_seconds_bucket",
    ):
        assert family in text


def _requests_total(text: str) -> float:
    series = 'shipyard_requests_total{arm="stable",model="fraud",protocol="native",status="200"'
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(series))


def test_openapi_describes_every_route(server: Server) -> None:
    from shipyard.server import ServeConfig, create_app

    with server.client() as client:
        document = client.get("/openapi.json").json()
    app = create_app(ServeConfig(references=["fraud@production"], home=str(server.home)))
    routes = {route.path for route in app.routes}  # type: ignore[attr-defined]
    assert set(document["paths"]) == routes


def test_token_guards_every_route_but_health_and_metrics(guarded_server: Server) -> None:
    with guarded_server.client() as client:
        assert client.post("/v1/models/fraud/predict", json={"records": [ROW]}).status_code == 401
        assert client.get("/health/ready").status_code == 200
        assert client.get("/metrics").status_code == 200
        authorized = client.post(
            "/v1/models/fraud/predict", json={"records": [ROW]}, headers={"authorization": "Bearer s3cret"}
        )
        wrong = client.post(
            "/v1/models/fraud/predict", json={"records": [ROW]}, headers={"authorization": "Bearer no"}
        )
    assert authorized.status_code == 200 and wrong.status_code == 401


def test_a_model_that_raises_is_a_500_with_an_error_id_in_the_log(guarded_server: Server) -> None:
    headers = {"authorization": "Bearer s3cret"}
    with guarded_server.client(headers=headers) as client:
        response = client.post("/v1/models/boom/predict", json={"records": [{"a": 1}]})
        still_fine = client.post("/v1/models/fraud/predict", json={"records": [ROW]})
    assert response.status_code == 500
    error_id = response.json()["error"].split("error id ")[1].rstrip(")")
    deadline = time.monotonic() + 5
    while error_id not in guarded_server.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert error_id in guarded_server.log_text()
    assert still_fine.status_code == 200


def test_each_request_gets_one_access_log_line_with_its_prediction_id(server: Server) -> None:
    with server.client() as client:
        response = client.post("/v1/models/fraud/predict", json={"records": [ROW]})
        rejected = client.post("/v1/models/fraud/predict", json={"records": [{"amount": "x"}]})
    ids = [response.headers["x-prediction-id"], rejected.headers["x-prediction-id"]]
    deadline = time.monotonic() + 5
    while not all(value in server.log_text() for value in ids) and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = {value: [line for line in server.log_text().splitlines() if value in line] for value in ids}
    assert len(lines[ids[0]]) == 1 and len(lines[ids[1]]) == 1
    expected = "POST /v1/models/fraud/predict model=fraud version=1 arm=stable protocol=native status=200"
    assert "shipyard.access " + expected in lines[ids[0]][0]
    assert "status=422" in lines[ids[1]][0] and "version=1" in lines[ids[1]][0]  # who refused it


def test_a_slow_client_does_not_stall_other_requests(server: Server) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as slow:
        slow.sendall(b"POST /v1/models/fraud/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        with server.client() as client:
            started = time.perf_counter()
            for _ in range(10):
                assert client.post("/v1/models/fraud/predict", json={"records": [ROW]}).status_code == 200
            assert time.perf_counter() - started < 5.0
