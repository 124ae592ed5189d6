"""A split that changes under live traffic on a real server (uvicorn on 127.0.0.1, in a thread, with its
own prediction log): no request fails, and each logged prediction's arm is the one its response named.

The split is set on the server's own event loop through ``Engine.set_split``, as the rollout controller
will through ``split_source``; several worker processes following a rollout from the database is the next
step, tested once the servers read it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
import uvicorn

from shipyard.predictions import PredictionLog
from shipyard.rollouts.routing import Split
from shipyard.server import ServeConfig, create_app
from shipyard.serving.engine import Engine
from tests.serving.conftest import free_port
from tests.serving.test_rollout_serving import REQUESTS, home  # noqa: F401 (the workspace fixture)

pytestmark = pytest.mark.slow


@dataclass
class LiveServer:
    url: str
    engine: Engine
    loop: asyncio.AbstractEventLoop
    app_log_url: str

    def set_split(self, split: Split | None) -> None:
        future: Future[None] = asyncio.run_coroutine_threadsafe(
            self.engine.set_split("fraud", split), self.loop
        )
        future.result(timeout=60)


@pytest.fixture
def live(home: Path) -> Iterator[LiveServer]:  # noqa: F811
    app = create_app(ServeConfig(references=["fraud@production"], home=str(home)))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    loops: list[asyncio.AbstractEventLoop] = []

    async def serve() -> None:
        loops.append(asyncio.get_running_loop())
        await server.serve()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    try:
        state = app.state.server
        yield LiveServer(f"http://127.0.0.1:{port}", state.engine, loops[0], state.settings.log_url)
    finally:
        server.should_exit = True
        thread.join(timeout=60)  # the lifespan's end writes every buffered prediction


def test_weights_changing_under_live_traffic_fail_no_request(live: LiveServer) -> None:
    responses: list[httpx.Response] = []
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client(base_url=live.url, timeout=30.0) as client:
            while not stop.is_set():
                for path, body, headers in REQUESTS.values():
                    responses.append(client.post(path, content=body, headers=headers))

    clients = [threading.Thread(target=traffic) for _ in range(4)]
    for thread in clients:
        thread.start()
    try:
        for share in (0.05, 0.5, 1.0, None, 0.05, 0.5, 1.0, None):
            stop.wait(0.4)
            live.set_split(None if share is None else Split("ro-live", 1, 2, share))
        stop.wait(0.4)
    finally:
        stop.set()
        for thread in clients:
            thread.join()

    assert len(responses) > 100
    assert [r.status_code for r in responses if r.status_code != 200] == []
    answered = {r.headers["x-prediction-id"]: r.headers["x-shipyard-arm"] for r in responses}
    assert set(answered.values()) == {"stable", "canary"}
    logged = _logged(live, [f"{request_id}-0" for request_id in answered])
    assert {pid.removesuffix("-0"): arm for pid, (arm, _) in logged.items()} == answered
    assert all(version == (2 if arm == "canary" else 1) for arm, version in logged.values())


def _logged(live: LiveServer, prediction_ids: list[str]) -> dict[str, tuple[str, int]]:
    """``prediction id -> (arm, version)`` from the server's prediction log, once it has written them all
    (its writer flushes every second)."""
    log = PredictionLog(live.app_log_url)
    deadline = time.monotonic() + 30
    while True:
        table: pa.Table = log.find_table(prediction_ids, ["prediction_id", "arm", "version"])
        if table.num_rows == len(prediction_ids) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    rows = zip(*(table[name].to_pylist() for name in ("prediction_id", "arm", "version")), strict=True)
    return {pid: (arm, version) for pid, arm, version in rows}
