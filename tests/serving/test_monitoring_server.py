"""``shipyard serve`` runs the monitoring runner beside its workers; /metrics shows what it found."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving.conftest import Server, start_server, stop_server

pytestmark = pytest.mark.slow

ROW = {"amount": 42.0, "channel": "web", "hour": 3}


@pytest.fixture(scope="module")
def monitored(workspace: Path) -> Iterator[Server]:
    running = start_server(
        workspace, ["fraud@production"], "--monitor-interval", "1", "--monitor-window", "1m", workers=2
    )
    yield running
    stop_server(running)


def test_served_predictions_reach_the_monitors_and_metrics(monitored: Server) -> None:
    with monitored.client() as client:
        for _ in range(20):
            assert client.post("/v1/models/fraud/predict", json={"records": [ROW, ROW]}).status_code == 200
        deadline = time.monotonic() + 60
        rows = 0.0
        while time.monotonic() < deadline:
            # The newest window is the one in progress: keep traffic flowing into it as minutes turn.
            client.post("/v1/models/fraud/predict", json={"records": [ROW]})
            text = client.get("/metrics").text
            labels = 'column="",metric="rows",model="fraud",version="1",window="1m"'
            found = re.findall(r"shipyard_monitor_value\{" + labels + r"\} (\S+)", text)
            rows = max([float(value) for value in found] or [0.0])
            if rows > 0:
                break
            time.sleep(0.5)
    assert rows > 0
    assert 'metric="health.latency_p95_ms"' in text and 'metric="drift.share"' in text
    assert "shipyard_prediction_log_rows_total" in text
