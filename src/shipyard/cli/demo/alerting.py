"""The demo's alerting chapter: what the monitors found fires alerts, and a slow model is rolled back by one.

A webhook receiver on 127.0.0.1 stands in for the team's incident tool: it checks each payload's HMAC
signature and prints it. The drifted hour fires the default dataset-drift and accuracy-drop rules; then a
model with a blocking call slips into production, its real latency lands in the log, the p99 rule fires and
its action rolls ``fraud@production`` back.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pandas as pd

from shipyard.alerts import AlertEvaluator, Outcome, load_alerts
from shipyard.alerts.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER
from shipyard.cli import render
from shipyard.cli.demo.traffic import FEATURES, log_request, make_transactions
from shipyard.config import CONFIG_FILE
from shipyard.registry import Registry

SECRET = "demo-secret"
SLOW_SECONDS = 0.3
_RULES = """
[alerts]
default_channels = ["incident-webhook"]

[alerts.channels.incident-webhook]
type = "webhook"
url = "{url}"
secret = "{secret}"

[[alerts.rules]]
name = "fraud:latency-p99"
model = "fraud@production"
figure = "health.latency_p99_ms"
above = 250
severity = "critical"
actions = [{{ type = "rollback" }}]
description = "p99 latency above 250 ms: roll production back"
"""


class SlowFraud:
    """A fraud model with a blocking call inside: it flags nothing and takes 0.3 s per call."""

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        time.sleep(SLOW_SECONDS)
        return np.zeros(len(data), dtype=np.int64)


def point_channel_at(registry: Registry, url: str) -> None:
    """Point the workspace's incident webhook channel at ``url`` (an earlier chapter's receiver is gone)."""
    config = registry.settings.home / CONFIG_FILE
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r'url = "http://127\.0\.0\.1:\d+/incidents"', f'url = "{url}"', text))


@contextlib.contextmanager
def incident_webhook() -> Iterator[str]:
    """A receiver on 127.0.0.1 that checks the signature of every alert it gets and prints it; its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            stamp = self.headers.get(TIMESTAMP_HEADER, "")
            expected = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            signed = hmac.compare_digest(self.headers.get(SIGNATURE_HEADER, ""), f"sha256={expected}")
            payload = json.loads(body)
            render.message(
                "  webhook ← {}: {} ({})",
                payload["status"],
                payload["summary"],
                "signature ok" if signed else "BAD SIGNATURE",
            )
            self.send_response(200 if signed else 401)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/incidents"
    finally:
        server.shutdown()
        server.server_close()


def alerting_story(registry: Registry, start: datetime, step: Callable[..., None]) -> None:
    """Steps 12 and 13, over the replayed hours starting at ``start`` (the calm hour; the next drifted);
    ``step`` prints a step's numbered heading, as it does for the steps before."""
    from shipyard.monitoring.series import run_monitors
    from shipyard.predictions import LogWriter, PredictionLog

    hour = timedelta(hours=1)
    with incident_webhook() as url:
        config_file = registry.settings.home / "shipyard.toml"
        config_file.write_text(
            config_file.read_text(encoding="utf-8") + _RULES.format(url=url, secret=SECRET), encoding="utf-8"
        )
        config = load_alerts(registry.settings, registry, ["fraud@production"])
        evaluator = AlertEvaluator(registry, config)
        step(
            12,
            "{} alert rules watch fraud@production (the defaults, and a p99 rule that rolls back), "
            "notifying an incident webhook; evaluated as of the drifted hour:",
            len(config.rules),
        )
        fired = evaluator.evaluate(start + hour + timedelta(minutes=50))
        show_outcomes(fired)
        names = {outcome.rule for outcome in fired if outcome.after == "firing"}
        if not {"fraud:dataset-drift", "fraud:accuracy-drop"} <= names:
            raise AssertionError(f"the drift and accuracy alerts did not fire: {sorted(names)}")

        healthy = registry.resolve("fraud@production")
        slow = registry.register("fraud", SlowFraud(), description="a model with a blocking call inside")
        registry.set_alias("fraud", "production", slow.version, reason="demo: a slow model slips through")
        step(
            13, "{} (a model with a blocking call) slipped into production; its traffic is logged:", slow.ref
        )
        moment = start + 2 * hour + timedelta(minutes=5)
        writer = LogWriter(registry.settings.log_url, flush_seconds=3600)
        latencies = _serve_slowly(registry, slow.ref, moment, writer)
        writer.close()
        render.message(
            "  {} requests, p99 latency {} ms", len(latencies), f"{np.percentile(latencies, 99) * 1000:.0f}"
        )
        run_monitors(
            registry,
            PredictionLog(registry.settings.log_url),
            [slow],
            start + 2 * hour,
            start + 3 * hour,
            hour,
        )
        outcomes = evaluator.evaluate(moment + timedelta(minutes=10))
        show_outcomes(outcomes)
        back = registry.resolve("fraud@production")
        render.message("fraud@production is back on {} (was {})", back.ref, slow.ref)
        if back.version != healthy.version:
            raise AssertionError("the latency alert did not roll production back")


def _serve_slowly(registry: Registry, reference: str, at: datetime, writer: Any) -> list[float]:
    """Twenty requests of ten rows, each timed for real, logged as the server would log them."""
    version = registry.resolve(reference)
    model = registry.load_model(reference, trust=True)  # registered by this demo, just now
    frame = make_transactions(200, seed=99)[FEATURES]
    latencies = []
    for first in range(0, len(frame), 10):
        rows = frame.iloc[first : first + 10].reset_index(drop=True)
        started = time.perf_counter()
        labels = model.predict(rows)
        latencies.append(time.perf_counter() - started)
        log_request(writer, version, rows, labels, None, at, latencies[-1])
    return latencies


def show_outcomes(outcomes: list[Outcome]) -> None:
    """The outcomes of an evaluation as a table: each rule's change, value and actions."""
    render.table(
        None,
        ["rule", "model", "change", "value", "actions"],
        [
            (
                o.rule,
                f"{o.model}/{o.version}",
                f"{o.before} → {o.after}",
                "—" if o.value is None else f"{o.value:.3g}",
                "; ".join(f"{a.action} {a.status}: {a.detail}" for a in o.actions) or "—",
            )
            for o in outcomes
        ],
    )
