"""Real receivers on 127.0.0.1 for alert deliveries, and a registry with a model and its figures."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from sklearn.linear_model import LogisticRegression

from shipyard import Registry
from shipyard.monitoring.series import save_window
from shipyard.monitoring.windows import FeatureQuality, WindowResult

HOUR = timedelta(hours=1)
#: Monitoring windows in these tests start here; evaluations happen some minutes into a window.
T0 = datetime(2026, 11, 26, 8, tzinfo=UTC)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """An HTTP server that records every POST and answers as ``behaviour`` says: ok, fail (500) or hang."""

    url: str = ""
    behaviour: str = "ok"
    received: list[Received] = field(default_factory=list)
    hang_seconds: float = 3.0


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            receiver.received.append(Received(self.path, dict(self.headers.items()), body))
            if receiver.behaviour == "hang":
                time.sleep(receiver.hang_seconds)
            status = 500 if receiver.behaviour == "fail" else 200
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@dataclass
class MailReceiver:
    port: int
    messages: list[Message] = field(default_factory=list)


@pytest.fixture
def smtp() -> Iterator[MailReceiver]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 keeping every message it accepts."""
    from aiosmtpd.handlers import Message as MessageHandler

    receiver = MailReceiver(0)

    class Keep(MessageHandler):  # type: ignore[misc]
        def handle_message(self, message: Message) -> None:
            receiver.messages.append(message)

    controller = Controller(Keep(), hostname="127.0.0.1", port=0)
    controller.start()
    receiver.port = controller.server.sockets[0].getsockname()[1]
    yield receiver
    controller.stop()


def register_fraud(registry: Registry, versions: int = 2) -> None:
    """fraud/1…N on features amount and hour; production moved to each in turn (so it can roll back)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"amount": rng.normal(50, 10, 60), "hour": rng.integers(0, 24, 60)})
    for number in range(1, versions + 1):
        model = LogisticRegression(C=float(number)).fit(frame, np.arange(60) % 2)
        registry.register("fraud", model)
        registry.set_alias("fraud", "production", number)


def record_window(
    registry: Registry,
    start: datetime,
    *,
    version: int = 1,
    window: timedelta = HOUR,
    health: dict[str, float | None] | None = None,
    accuracy: dict[str, float | None] | None = None,
    missing: dict[str, float] | None = None,
) -> None:
    """Store a monitoring window's figures, as the monitoring runner would."""
    result = WindowResult("fraud", version, start, start + window, rows=100, requests=100)
    result.health = dict(health or {})
    result.accuracy = dict(accuracy or {})
    result.quality = {name: FeatureQuality(rate, 0.0, None, None) for name, rate in (missing or {}).items()}
    save_window(registry, result, window)
