"""The edges of the three protocols on a real server: numbers in paths, bodies over the limit, compressed
bodies, duplicate and unknown columns, and an OpenAPI document that names every answer a route gives."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.serving.conftest import FEATURES, Server, start_server, stop_server

ROW = {"amount": 12.5, "channel": "web", "hour": 3}
JSON = {"content-type": "application/json"}
LIMIT_BYTES = 1024 * 1024


@pytest.fixture(scope="module")
def server(workspace: Path) -> Iterator[Server]:
    """One worker (quick to start) and a body limit of 1 MB."""
    running = start_server(workspace, ["fraud@production"], "--max-body-mb", "1", workers=1)
    yield running
    stop_server(running)


def _oip_body(rows: int = 1) -> dict[str, Any]:
    columns = {"amount": ("FP64", 12.5), "channel": ("BYTES", "web"), "hour": ("INT64", 3)}
    return {
        "inputs": [
            {"name": name, "shape": [rows], "datatype": datatype, "data": [value] * rows}
            for name, (datatype, value) in columns.items()
        ]
    }


#: One small request per protocol: (path, body, headers).
PROTOCOLS = {
    "native": ("/v1/models/fraud/predict", orjson.dumps({"records": [ROW]}), JSON),
    "mlflow": ("/invocations", orjson.dumps({"dataframe_records": [ROW]}), JSON),
    "mlflow-csv": ("/invocations", b"amount,channel,hour\n12.5,web,3\n", {"content-type": "text/csv"}),
    "oip": ("/v2/models/fraud/infer", orjson.dumps(_oip_body()), JSON),
}


# -- numbers in paths ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["²", "٣", "0", "9" * 5000])
@pytest.mark.parametrize("suffix", ["", "/ready", "/infer"])
def test_a_version_that_is_not_ascii_digits_from_1_is_a_400(
    server: Server, version: str, suffix: str
) -> None:
    path = f"/v2/models/fraud/versions/{version}{suffix}"
    with server.client() as client:
        response = client.post(path, json=_oip_body()) if suffix == "/infer" else client.get(path)

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert "bad version" in response.json()["error"]


# -- the body limit ------------------------------------------------------------------------------------------
def _chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), 1024):
        yield body[start : start + 1024]


@pytest.mark.parametrize("form", ["json", "chunked", "csv"])
def test_invocations_answers_413_for_a_body_over_the_limit(server: Server, form: str) -> None:
    rows = [ROW] * 30_000
    if form == "csv":
        body = ("amount,channel,hour\n" + "12.5,web,3\n" * 100_000).encode()
        content: Any = body
        headers = {"content-type": "text/csv"}
    else:
        body = orjson.dumps({"dataframe_records": rows})
        content = _chunks(body) if form == "chunked" else body
        headers = JSON
    assert len(body) > LIMIT_BYTES
    with server.client() as client:
        response = client.post("/invocations", content=content, headers=headers)

    assert response.status_code == 413
    assert response.json()["error_code"] == "BAD_REQUEST"


# -- Content-Encoding ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_protocol_reads_a_gzip_body(server: Server, protocol: str) -> None:
    path, body, headers = PROTOCOLS[protocol]
    with server.client() as client:
        response = client.post(
            path, content=gzip.compress(body), headers={**headers, "content-encoding": "gzip"}
        )

    assert response.status_code == 200, response.text


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_protocol_refuses_an_unknown_content_encoding_with_415(server: Server, protocol: str) -> None:
    path, body, headers = PROTOCOLS[protocol]
    with server.client() as client:
        response = client.post(path, content=body, headers={**headers, "content-encoding": "br"})

    assert response.status_code == 415
    assert "'br'" in response.text


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_gzip_body_over_the_limit_once_decompressed_is_413(server: Server, protocol: str) -> None:
    path, _, headers = PROTOCOLS[protocol]
    bomb = gzip.compress(b" " * 5_000_000)  # 5 MB in about 5 kB: under the 1 MB limit until decompressed
    assert len(bomb) < LIMIT_BYTES
    with server.client() as client:
        response = client.post(path, content=bomb, headers={**headers, "content-encoding": "gzip"})

    assert response.status_code == 413
    assert "once decompressed" in response.text


# -- columns -------------------------------------------------------------------------------------------------
def test_a_csv_naming_a_column_twice_is_a_400_like_json(server: Server) -> None:
    with server.client() as client:
        csv = client.post(
            "/invocations",
            content=b"amount,channel,hour,hour\n12.5,web,3,4\n",
            headers={"content-type": "text/csv"},
        )
        split = client.post(
            "/invocations",
            json={"dataframe_split": {"columns": [*FEATURES, "hour"], "data": [[12.5, "web", 3, 4]]}},
        )

    assert (csv.status_code, split.status_code) == (400, 400)
    assert "names hour more than once" in csv.json()["message"]


@pytest.mark.parametrize("protocol", ["native", "mlflow", "oip"])
def test_thousands_of_unknown_columns_are_dropped_before_any_work(server: Server, protocol: str) -> None:
    wide = {**ROW, **{f"x{i}": 1.0 for i in range(20_000)}}
    if protocol == "native":
        path, payload = "/v1/models/fraud/predict", {"records": [wide]}
    elif protocol == "mlflow":
        path, payload = "/invocations", {"dataframe_records": [wide]}
    else:
        path = "/v2/models/fraud/infer"
        extra = [{"name": f"x{i}", "shape": [1], "datatype": "FP64", "data": [1.0]} for i in range(12_000)]
        payload = {"inputs": [*_oip_body()["inputs"], *extra]}
    with server.client() as client:
        started = time.perf_counter()
        response = client.post(path, content=orjson.dumps(payload), headers=JSON)
        elapsed = time.perf_counter() - started

    assert response.status_code == 200, response.text
    assert elapsed < 3.0  # building the 20,000 columns took seconds


# -- the OpenAPI document names every answer -----------------------------------------------------------------
#: (method, documented path, requested path, body, headers, status): answers a route gives besides 200.
ANSWERS = [
    *(
        ("post", route, path, body, headers, 200)
        for route, (path, body, headers) in zip(
            ["/v1/models/{name}/predict", "/invocations", "/invocations", "/v2/models/{name}/infer"],
            PROTOCOLS.values(),
            strict=True,
        )
    ),
    (
        "post",
        "/v2/models/{name}/versions/{version}/infer",
        "/v2/models/fraud/versions/1/infer",
        orjson.dumps(_oip_body()),
        JSON,
        200,
    ),
    ("get", "/v2/models/{name}/versions/{version}", "/v2/models/fraud/versions/²", None, {}, 400),
    ("get", "/v2/models/{name}/versions/{version}", "/v2/models/fraud/versions/99", None, {}, 404),
    (
        "get",
        "/v2/models/{name}/versions/{version}/ready",
        "/v2/models/fraud/versions/99/ready",
        None,
        {},
        404,
    ),
    ("get", "/v2/models/{name}", "/v2/models/nope", None, {}, 404),
    ("get", "/v2/models/{name}/ready", "/v2/models/nope/ready", None, {}, 404),
    ("post", "/invocations", "/invocations", b"{}", {"content-type": "text/plain"}, 415),
    ("post", "/invocations", "/invocations", b"{}", JSON, 400),
    ("post", "/invocations", "/invocations?model=nope", orjson.dumps({"inputs": [ROW]}), JSON, 404),
    (
        "post",
        "/v1/models/{name}/predict",
        "/v1/models/fraud/predict",
        b"{}",
        {"content-type": "text/plain"},
        415,
    ),
    (
        "post",
        "/v1/models/{name}/predict",
        "/v1/models/fraud/predict",
        orjson.dumps([{"amount": "x"}]),
        JSON,
        422,
    ),
    ("post", "/v2/models/{name}/infer", "/v2/models/fraud/infer", b"{}", JSON, 400),
    ("get", "/v2/health/ready", "/v2/health/ready", None, {}, 200),
    ("get", "/health/ready", "/health/ready", None, {}, 200),
    ("get", "/v1/models", "/v1/models", None, {}, 200),
    ("get", "/metrics", "/metrics", None, {}, 200),
    ("get", "/", "/", None, {}, 200),
    ("get", "/docs", "/docs", None, {}, 200),
    ("get", "/docs/swagger-ui.css", "/docs/swagger-ui.css", None, {}, 200),
    ("get", "/docs/swagger-ui-bundle.js", "/docs/swagger-ui-bundle.js", None, {}, 200),
]


PREDICTION_ROUTES = {
    "/v1/models/{name}/predict",
    "/invocations",
    "/v2/models/{name}/infer",
    "/v2/models/{name}/versions/{version}/infer",
}


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(
        "urn:document", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    anchored = {"$ref": "urn:document#" + schema["$ref"][1:]} if "$ref" in schema else schema
    return jsonschema.Draft202012Validator(anchored, registry=registry)


@pytest.mark.parametrize(("method", "route", "path", "body", "headers", "status"), ANSWERS)
def test_the_openapi_document_names_each_answer_with_its_media_type_and_body(
    server: Server,
    method: str,
    route: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    status: int,
) -> None:
    with server.client() as client:
        document = client.get("/openapi.json").json()
        response = client.request(method.upper(), path, content=body, headers=headers)

    assert response.status_code == status
    documented = document["paths"][route][method]["responses"]
    assert str(status) in documented, f"{route} answers {status} but documents {sorted(documented)}"
    media_type = response.headers["content-type"].split(";")[0]
    content = documented[str(status)]["content"]
    assert media_type in content
    schema = content[media_type].get("schema")
    if media_type == "application/json" and schema:
        _validator(document, schema).validate(response.json())
    headers = {name.lower() for name in documented[str(status)].get("headers", {})}
    # Every answer a prediction route gives names its request; one routed to an arm names the arm.
    wanted = {"x-prediction-id", "x-shipyard-arm"} if route in PREDICTION_ROUTES else {"x-shipyard-arm"}
    for header in wanted & set(response.headers):
        assert header in headers, f"{route} answers {status} with {header} but does not document it"


def test_a_token_server_documents_its_401_and_answers_it_in_that_shape(guarded_server: Server) -> None:
    with guarded_server.client() as client:
        document = client.get("/openapi.json").json()
        response = client.get("/v2/models/fraud/versions/1")

    assert response.status_code == 401
    answer = document["paths"]["/v2/models/{name}/versions/{version}"]["get"]["responses"]["401"]
    _validator(document, answer["content"]["application/json"]["schema"]).validate(response.json())
