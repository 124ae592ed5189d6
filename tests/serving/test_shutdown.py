"""Graceful shutdown: SIGTERM lets requests already in flight finish with their answer."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from shipyard import Registry
from shipyard.gates import promote
from shipyard.training import train
from tests.models import transactions
from tests.serving.conftest import fraud_spec, start_server

pytestmark = pytest.mark.slow
ROW = {"amount": 42.0, "channel": "web", "hour": 3}


def test_sigterm_finishes_in_flight_requests(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    with Registry(home=home) as registry:
        registry.datasets.add("tx", transactions(rows=400))
        train(fraud_spec(), registry=registry, progress=False)
        promote(registry, "fraud/1", "production")
    server = start_server(home, ["fraud@production"], workers=1)
    outcomes: list[object] = []
    started = threading.Barrier(9)

    def request() -> None:
        with httpx.Client(base_url=server.url, timeout=30.0) as client:
            started.wait()
            try:
                outcomes.append(
                    client.post("/v1/models/fraud/predict", json={"records": [ROW] * 2_000}).status_code
                )
            except httpx.ConnectError:
                outcomes.append("refused")  # arrived after the listener closed: never accepted, never lost

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    started.wait()
    time.sleep(0.3)  # the requests are being read or computed
    server.process.terminate()
    for thread in threads:
        thread.join(timeout=60)
    assert server.process.wait(timeout=60) in {0, -15}  # uvicorn re-raises SIGTERM once it has drained
    assert len(outcomes) == 8
    assert set(outcomes) <= {200, "refused"}, outcomes
    assert outcomes.count(200) >= 1
    assert "Finished server process" in server.log_text()


def test_overload_sheds_with_503_and_retry_after(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    with Registry(home=home) as registry:
        registry.datasets.add("tx", transactions(rows=400))
        train(fraud_spec(), registry=registry, progress=False)
    server = start_server(
        home,
        ["fraud"],
        "--max-queue-rows",
        "3000",
        "--max-batch-rows",
        "2000",
        workers=1,
    )
    responses: list[httpx.Response] = []
    barrier = threading.Barrier(12)

    def request() -> None:
        with httpx.Client(base_url=server.url, timeout=30.0) as client:
            barrier.wait()
            responses.append(client.post("/v1/models/fraud/predict", json={"records": [ROW] * 2_000}))

    threads = [threading.Thread(target=request) for _ in range(12)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        server.process.terminate()
        server.process.wait(timeout=60)
    statuses = sorted(response.status_code for response in responses)
    assert 200 in statuses and set(statuses) <= {200, 503}, statuses
    shed = [response for response in responses if response.status_code == 503]
    assert shed and all(int(response.headers["retry-after"]) >= 1 for response in shed)
    assert "overloaded" in shed[0].json()["error"]
