"""``shipyard serve`` runs the monitoring runner beside its workers; /metrics shows what it found, and the
alert rules evaluated after each run notify a real webhook receiver."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shipyard.config import load_settings
from shipyard.predictions import SegmentStore
from tests.predictions.conftest import record, write_segments
from tests.receivers import WebhookReceiver, webhook_receiver
from tests.serving.conftest import Server, start_server, stop_server

pytestmark = pytest.mark.slow

ROW = {"amount": 42.0, "channel": "web", "hour": 3}


@pytest.fixture(scope="module")
def hook() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def monitored(
    workspace: Path, hook: WebhookReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    rules = tmp_path_factory.mktemp("alerts") / "alerts.toml"
    rules.write_text(
        f"""
[alerts]
default_channels = ["hook"]
[alerts.channels.hook]
type = "webhook"
url = "{hook.url}"
[[alerts.rules]]
name = "refusals"
model = "fraud@production"
figure = "health.rejected_rate"
window = "1m"
above = 0
"""
    )
    running = start_server(
        workspace,
        ["fraud@production"],
        "--monitor-interval", "1", "--monitor-window", "1m",
        workers=2,
        environment={"SHIPYARD_LOG_USAGE_SECONDS": "0.5", "SHIPYARD_ALERTS_FILE": str(rules)},
    )  # fmt: skip
    yield running
    stop_server(running)


def _figure(text: str, metric: str, column: str = "") -> float:
    labels = f'arm="stable",column="{column}",metric="{metric}",model="fraud",version="1",window="1m"'
    found = re.findall(r"shipyard_monitor_value\{" + re.escape(labels) + r"\} (\S+)", text)
    return max([float(value) for value in found] or [0.0])


def test_served_predictions_refusals_and_resources_reach_the_monitors_and_metrics(monitored: Server) -> None:
    with monitored.client() as client:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            # The newest window is the one in progress: keep traffic flowing into it as minutes turn.
            for _ in range(5):
                assert (
                    client.post("/v1/models/fraud/predict", json={"records": [ROW, ROW]}).status_code == 200
                )
            bad = [{**ROW, "amount": "x"}, {**ROW, "hour": "y"}, {**ROW, "amount": None, "hour": "z"}]
            assert client.post("/v1/models/fraud/predict", json={"records": bad}).status_code == 422
            headers = {"content-type": "application/json"}
            assert client.post("/invocations", content=b"{oops", headers=headers).status_code == 400
            text = client.get("/metrics").text
            # Every figure in one window (a minute turning over starts an empty one); drift is judged, and
            # shown, once the window holds the 100 rows a verdict needs.
            wanted = ("rows", "health.cpu_percent", "failures.rejected", "failures.invalid")
            if all(_figure(text, metric) > 0 for metric in wanted) and 'metric="drift.share"' in text:
                break
            time.sleep(0.5)
    assert _figure(text, "rows") > 0
    assert 'metric="health.latency_p95_ms"' in text and 'metric="drift.share"' in text
    assert "shipyard_prediction_log_rows_total" in text
    # Refused requests: their share of all requests, and the rows each feature was to blame for.
    assert 0 < _figure(text, "health.rejected_rate") < 1 and _figure(text, "health.error_rate") == 0
    assert _figure(text, "quality.rejected_rows", "amount") >= 2 * _figure(text, "failures.rejected") > 0
    assert _figure(text, "quality.rejected_rows", "hour") >= 2 * _figure(text, "failures.rejected")
    assert _figure(text, "failures.invalid") > 0
    # The processes serving the version: CPU use and memory.
    assert _figure(text, "health.cpu_percent") > 0 and _figure(text, "health.memory_bytes") > 50e6
    assert _figure(text, "health.batch_rows_p50") >= 2


def _payloads(hook: WebhookReceiver, rule: str) -> list[dict[str, Any]]:
    return [r.json() for r in hook.received if r.json()["alert"]["rule"] == rule]


def test_alert_rules_run_beside_the_monitors_and_notify(monitored: Server, hook: WebhookReceiver) -> None:
    labels = 'arm="stable",column="",model="fraud",rule="refusals",severity="warning",state="firing",'
    labels += 'version="1"'
    firing = "shipyard_alerts{" + labels + "} 1.0"
    with monitored.client() as client:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _payloads(hook, "refusals"):
            client.post("/v1/models/fraud/predict", json={"records": [{**ROW, "amount": "x"}]})
            time.sleep(0.5)
        assert firing in client.get("/metrics").text
    # (The default rules may fire too: the same row sent again and again drifts from the training data.)
    [payload] = _payloads(hook, "refusals")
    assert payload["status"] == "firing"
    assert payload["alert"]["model"] == "fraud" and payload["alert"]["value"] > 0
    assert "alerting with 5 rule(s) through hook" in monitored.log_text()  # the defaults and ours


def test_the_servers_runner_merges_a_finished_hour_in_a_process_of_its_own(
    workspace: Path, tmp_path: Path
) -> None:
    """The runner lives in the server's companion, a daemon process; merging a finished hour apart from it
    must work there, not only when called from a test's own process."""
    home = tmp_path / "ws"
    shutil.copytree(workspace, home)  # a log of its own: other tests count the shared one's rows
    log_url = load_settings(home).log_url
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    write_segments(log_url, (record(1, seed=seed, at=hour + timedelta(minutes=seed)) for seed in range(3)))
    running = start_server(home, ["fraud@production"], "--monitor-interval", "1", workers=1)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            merged = SegmentStore(log_url).segments("fraud", 1, hour, hour + timedelta(hours=1))
            if len(merged) == 1:
                break
            time.sleep(0.5)
        assert [segment.rows for segment in merged] == [3], running.log_text()
        assert "pass failed" not in running.log_text()
    finally:
        stop_server(running)
