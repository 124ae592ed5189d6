"""What outside clients must not be able to do to a running server: grow its metrics without bound, make
their own hang-ups look like server errors, be refused for spelling ``bearer`` in lower case, or read its
token from ``ps``. Each test drives a real server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil
import pytest

from shipyard.config import load_settings
from shipyard.errors import ConfigurationError, InvalidInput
from shipyard.monitoring.service import count_failures
from shipyard.predictions import PredictionLog
from shipyard.server import ServeOptions, plan_server
from shipyard.server.app import create_app
from shipyard.server.auth import PUBLIC_PATHS
from shipyard.server.config import ENV_VARIABLE, ServeConfig
from tests.serving.conftest import Server, start_server, stop_server

ROW = {"amount": 12.0, "channel": "web", "hour": 3}
DOCS = Path(__file__).parents[2] / "docs" / "serving.md"


def _request_series(client: httpx.Client) -> list[str]:
    """The series labelled by model: what a request names. Not the monitors' figures (read from the
    database, they may appear meanwhile) nor the background ones (a worker's first log flush adds its
    series whenever it comes)."""
    text = client.get("/metrics").text
    return [
        line
        for line in text.splitlines()
        if line.startswith("shipyard_") and "model=" in line and "monitor" not in line
    ]


def _unknown_model_requests(client: httpx.Client, names: list[str]) -> None:
    for name in names:
        assert client.post(f"/invocations?model={name}", json={"dataframe_records": [ROW]}).status_code == 404
        assert client.post(f"/v1/models/{name}/predict", json={"records": [ROW]}).status_code == 404
        oip = {"inputs": [{"name": "amount", "shape": [1], "datatype": "FP64", "data": [12.0]}]}
        assert client.post(f"/v2/models/{name}/infer", json=oip).status_code == 404
        assert client.post(f"/v2/models/{name}/versions/7/infer", json=oip).status_code == 404
        assert client.post(f"/v2/models/fraud/versions/9{len(name)}/infer", json=oip).status_code == 404


def test_unknown_model_names_share_one_metric_label(server: Server) -> None:
    with server.client() as client:
        _unknown_model_requests(client, ["warm-up"])  # the one "_unknown" series of each kind exists now
        before = _request_series(client)
        names = [f"x{number}" for number in range(40)]
        _unknown_model_requests(client, names)
        after = _request_series(client)
    assert len(after) == len(before)
    assert not [line for line in after if any(f'"{name}"' in line for name in names)]
    assert any('model="_unknown"' in line for line in after)


def test_a_model_name_cannot_forge_an_access_log_line(server: Server) -> None:
    forged = "forged status=200"
    with server.client() as client:
        response = client.post(f"/invocations?model=a%0A{forged}", json={"dataframe_records": [ROW]})
    assert response.status_code == 404
    deadline = time.monotonic() + 5
    while "'a\\nforged status=200'" not in server.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [line for line in server.log_text().splitlines() if line.startswith("forged")]
    assert "model='a\\nforged status=200'" in server.log_text()


def _hang_up_mid_body(url: str, path: str) -> None:
    """A slow client: headers promising 10,000 bytes, a few of them, then it leaves."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            "Content-Length: 10000\r\n\r\n"
        )
        connection.sendall(head.encode() + b'{"records": [{"amount": 1')
        time.sleep(0.2)


@pytest.fixture(scope="module")
def one_worker(workspace: Path) -> Iterator[Server]:
    running = start_server(workspace, ["fraud@production"], "--no-monitor", workers=1)
    yield running
    stop_server(running)


@pytest.mark.slow
def test_a_client_that_hangs_up_mid_body_is_a_499_not_a_server_error(
    one_worker: Server, workspace: Path
) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    paths = ["/v1/models/fraud/predict", "/invocations", "/v2/models/fraud/infer"]
    for path in paths * 3:
        _hang_up_mid_body(one_worker.url, path)
    deadline = time.monotonic() + 10
    while one_worker.log_text().count("status=499") < 9 and time.monotonic() < deadline:
        time.sleep(0.1)
    with one_worker.client() as client:
        assert client.post("/v1/models/fraud/predict", json={"records": [ROW]}).status_code == 200
        metrics = client.get("/metrics").text
    stop_server(one_worker)  # a clean stop writes every buffered failure to the prediction log
    log = one_worker.log_text()
    assert log.count("status=499") == 9
    assert "status=500" not in log and "Traceback" not in log and "ClientDisconnect" not in log
    assert 'status="500"' not in metrics
    failures = count_failures(
        PredictionLog(load_settings(workspace).log_url), "fraud", 1, start, datetime.now(UTC)
    )
    assert failures.requests == 0 and failures.errors == 0


def test_the_bearer_scheme_is_case_insensitive(guarded_server: Server) -> None:
    statuses = {}
    with guarded_server.client() as client:
        for header in ["bearer s3cret", "BEARER s3cret", "Bearer   s3cret", "Basic s3cret", "Bearers3cret"]:
            response = client.post(
                "/v1/models/fraud/predict", json={"records": [ROW]}, headers={"authorization": header}
            )
            statuses[header] = response.status_code
    assert statuses == {
        "bearer s3cret": 200,
        "BEARER s3cret": 200,
        "Bearer   s3cret": 200,
        "Basic s3cret": 401,
        "Bearers3cret": 401,
    }


PUBLIC = {
    "/ping",
    "/health",
    "/version",
    "/health/live",
    "/health/ready",
    "/v2/health/live",
    "/v2/health/ready",
    "/metrics",
    "/openapi.json",
    "/",
    "/docs",
    "/docs/swagger-ui.css",
    "/docs/swagger-ui-bundle.js",
}


def test_exactly_the_probes_metrics_openapi_and_the_api_page_are_public(guarded_server: Server) -> None:
    app = create_app(ServeConfig(references=["fraud/1"], home=str(guarded_server.home)))
    answered = set()
    with guarded_server.client() as client:
        for route in app.routes:
            path = route.path  # type: ignore[attr-defined]
            concrete = path.replace("{name}", "fraud").replace("{version}", "1")
            for method in sorted(route.methods - {"HEAD"}):  # type: ignore[attr-defined]
                if client.request(method, concrete).status_code != 401:
                    answered.add(path)
        lookalikes = ["/healthz", "/metrics2", "/pingx", "/version/x", "/v2/health/livex", "/openapi.json5"]
        lookalikes += ["/docs/", "/docs/swagger-editor-bundle.js", "/index.html"]
        assert {client.get(path).status_code for path in lookalikes} == {401}
    assert answered == PUBLIC == set(PUBLIC_PATHS)
    documented = DOCS.read_text()
    assert all(f"`{path}`" in documented for path in PUBLIC)


def test_a_token_file_and_a_token_are_exclusive(workspace: Path, tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("from-a-file\n")
    settings = load_settings(workspace)
    plan = plan_server(["fraud@production"], ServeOptions(token_file=secret), settings=settings)
    assert plan.config.api_token == "from-a-file"
    assert "from-a-file" not in repr(plan)
    with pytest.raises(InvalidInput, match="token-file"):
        plan_server(["fraud@production"], ServeOptions(token="a", token_file=secret), settings=settings)
    (tmp_path / "empty").write_text(" \n")
    with pytest.raises(ConfigurationError, match="empty"):
        plan_server(["fraud@production"], ServeOptions(token_file=tmp_path / "empty"), settings=settings)
    with pytest.raises(ConfigurationError, match="missing"):
        plan_server(["fraud@production"], ServeOptions(token_file=tmp_path / "missing"), settings=settings)


def _process_tree(root: int) -> list[psutil.Process]:
    parent = psutil.Process(root)
    return [parent, *parent.children(recursive=True)]


def _token_seen_by_other_processes(root: int, token: str) -> tuple[list[int], list[str]]:
    """Pids whose command line or environment shows ``token``, and the token files the workers were given."""
    leaked, files = [], []
    for process in _process_tree(root):
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()
        environ = Path(f"/proc/{process.pid}/environ").read_bytes()
        if token.encode() in cmdline or token.encode() in environ:
            leaked.append(process.pid)
        for entry in environ.split(b"\0"):
            if entry.startswith(f"{ENV_VARIABLE}=".encode()):
                given = json.loads(entry.split(b"=", 1)[1])["api_token_file"]
                files.append(given)
    return leaked, files


@pytest.mark.slow
@pytest.mark.parametrize("source", ["--token-file", "SHIPYARD_SERVE_TOKEN"])
def test_the_token_is_enforced_and_in_no_command_line_or_environment(
    workspace: Path, tmp_path: Path, source: str
) -> None:
    token = f"tok-{os.getpid()}-{source[-4:]}"
    secret = tmp_path / "token"
    secret.write_text(token + "\n")
    if source == "--token-file":
        running = start_server(workspace, ["fraud@production"], "--no-monitor", "--token-file", str(secret))
    else:
        environment = {"SHIPYARD_SERVE_TOKEN": token}
        running = start_server(workspace, ["fraud@production"], "--no-monitor", environment=environment)
    try:
        with running.client() as client:
            refused = client.post("/v1/models/fraud/predict", json={"records": [ROW]})
            headers = {"authorization": f"Bearer {token}"}
            allowed = client.post("/v1/models/fraud/predict", json={"records": [ROW]}, headers=headers)
        assert (refused.status_code, allowed.status_code) == (401, 200)
        leaked, files = _token_seen_by_other_processes(running.process.pid, token)
        if source == "SHIPYARD_SERVE_TOKEN":  # the user put it in the server's environment; only there
            assert leaked == [running.process.pid]
        else:
            assert leaked == []
        assert len(_process_tree(running.process.pid)) >= 3  # the server and its two workers were checked
        assert files and all(os.stat(name).st_mode & 0o077 == 0 for name in files)
    finally:
        stop_server(running)
    assert not any(os.path.exists(name) for name in files)  # the private copy goes with the server
