"""Real receivers on 127.0.0.1 for alert deliveries: an HTTP webhook receiver and an SMTP server."""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.serving.conftest import free_port


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


@contextlib.contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
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
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class MailReceiver:
    port: int
    messages: list[Message] = field(default_factory=list)


@contextlib.contextmanager
def mail_receiver() -> Iterator[MailReceiver]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 keeping every message it accepts."""
    from aiosmtpd.handlers import Message as MessageHandler

    receiver = MailReceiver(free_port())

    class Keep(MessageHandler):  # type: ignore[misc]
        def handle_message(self, message: Message) -> None:
            # Read back as a mail client would: headers decoded and unfolded.
            receiver.messages.append(
                email.message_from_string(message.as_string(), policy=email.policy.default)
            )

    controller = Controller(Keep(), hostname="127.0.0.1", port=receiver.port)
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()
