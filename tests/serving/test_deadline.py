"""A request that waits in the queue past its deadline gets 504 over real HTTP, and the server keeps going."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serving.conftest import Server, start_server, stop_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def slow_server(workspace: Path) -> Iterator[Server]:
    running = start_server(workspace, ["slow"], "--trust", "--timeout", "0.3", workers=1)
    yield running
    stop_server(running)


def test_requests_queued_past_their_deadline_get_504(slow_server: Server) -> None:
    answers: list[httpx.Response] = []

    def ask() -> None:
        with slow_server.client() as client:
            answers.append(client.post("/v1/models/slow/predict", json={"records": [{"x": 1.0}]}))

    first = threading.Thread(target=ask)
    first.start()
    time.sleep(0.3)  # the first request is running (1 s); these two queue behind it
    queued = [threading.Thread(target=ask) for _ in range(2)]
    for thread in queued:
        thread.start()
    for thread in [first, *queued]:
        thread.join(timeout=30)
    assert sorted(answer.status_code for answer in answers) == [200, 504, 504]
    late = next(answer for answer in answers if answer.status_code == 504)
    assert "past its deadline" in late.json()["error"]
    assert late.headers["x-prediction-id"]
    with slow_server.client() as client:
        assert client.post("/v1/models/slow/predict", json={"records": [{"x": 2.0}]}).status_code == 200
