"""Delivering a notification: generic webhook (HMAC-signed JSON), Slack-compatible webhook, SMTP email, log.

Each channel retries a failed delivery with exponential backoff, every attempt bounded by the channel's
timeout, so one delivery takes at most ``attempts × timeout + backoff × (2^(attempts-1) - 1)`` seconds.
``deliver`` sends to all channels at once on their own threads: a channel that is down or hangs delays
nobody else, and every outcome comes back (to be recorded), none raises.

The webhook body is the notification as JSON; with a secret, ``X-Shipyard-Signature: sha256=<hex>`` is the
HMAC-SHA256 of ``<X-Shipyard-Timestamp>.<body>`` with it, so a receiver can check origin and freshness.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from shipyard._version import __version__
from shipyard.alerts.rules import ChannelConfig, webhook_url_problem

log = logging.getLogger("shipyard.alerts")

SIGNATURE_HEADER = "X-Shipyard-Signature"
TIMESTAMP_HEADER = "X-Shipyard-Timestamp"


@dataclass(frozen=True)
class Notification:
    """What a channel sends: ``status`` is firing or resolved; ``alert`` holds the alert's facts."""

    status: str
    summary: str
    alert: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "summary": self.summary, "alert": self.alert, "sender": "shipyard"}


@dataclass(frozen=True)
class Delivery:
    channel: str
    delivered: bool
    attempts: int
    seconds: float
    error: str = ""


def deliver(notification: Notification, channels: dict[str, ChannelConfig]) -> list[Delivery]:
    """Send ``notification`` through every channel in parallel; one outcome per channel, in order."""
    if not channels:
        return []
    with ThreadPoolExecutor(max_workers=len(channels), thread_name_prefix="alert-delivery") as pool:
        futures = [pool.submit(_deliver_one, name, config, notification) for name, config in channels.items()]
        return [future.result() for future in futures]


def _deliver_one(name: str, config: ChannelConfig, notification: Notification) -> Delivery:
    started = time.monotonic()
    send = _senders[config.type]
    error = ""
    for attempt in range(1, config.attempts + 1):
        try:
            send(config, notification)
            return Delivery(name, True, attempt, time.monotonic() - started)
        except Exception as exc:  # every failure is retried, then recorded; none escapes
            error = _describe(exc)
            log.warning(
                "alert delivery to %s failed (attempt %d of %d): %s", name, attempt, config.attempts, error
            )
            if attempt < config.attempts:
                time.sleep(config.backoff * 2 ** (attempt - 1))
    return Delivery(name, False, config.attempts, time.monotonic() - started, error)


def _send_webhook(config: ChannelConfig, notification: Notification) -> None:
    body = json.dumps(notification.to_dict(), default=str).encode()
    headers = {"Content-Type": "application/json", "User-Agent": f"shipyard/{__version__}", **config.headers}
    secret = config.signing_secret()
    if secret is not None:
        stamp = str(int(time.time()))
        digest = hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers[TIMESTAMP_HEADER] = stamp
        headers[SIGNATURE_HEADER] = f"sha256={digest}"
    _post(config, body, headers)


def _send_slack(config: ChannelConfig, notification: Notification) -> None:
    """Slack's incoming-webhook payload (also read by Mattermost, Rocket.Chat and Discord's /slack)."""
    alert = notification.alert
    marker = {"firing": ":rotating_light:", "resolved": ":white_check_mark:"}.get(notification.status, "")
    fields = [
        {"type": "mrkdwn", "text": f"*{key}*\n{alert.get(key)}"}
        for key in ("model", "figure", "value", "condition", "severity")
        if alert.get(key) not in (None, "")
    ]
    payload = {
        "text": f"{marker} {notification.summary}".strip(),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{marker} *{notification.summary}*"}},
            {"type": "section", "fields": fields[:10]},
        ],
    }
    headers = {"Content-Type": "application/json", **config.headers}
    _post(config, json.dumps(payload, default=str).encode(), headers)


def _post(config: ChannelConfig, body: bytes, headers: dict[str, str]) -> None:
    # Checked again here, for a config built without validation: urlopen would also open file: and ftp:.
    problem = webhook_url_problem(config.url or "")
    if problem:
        raise ValueError(f"the webhook url {problem}")
    request = urllib.request.Request(config.url or "", data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=config.timeout) as response:
        if response.status >= 300:
            raise RuntimeError(f"HTTP {response.status}")


def _send_email(config: ChannelConfig, notification: Notification) -> None:
    message = EmailMessage()
    message["Subject"] = f"[{notification.status.upper()}] {notification.summary}"
    message["From"] = config.sender or ""
    message["To"] = ", ".join(config.to)
    lines = [notification.summary, ""]
    lines += [f"{key}: {value}" for key, value in notification.alert.items() if value not in (None, "", {})]
    message.set_content("\n".join(lines) + "\n")
    host, port = config.host or "localhost", config.port
    if config.ssl:
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=config.timeout)
    else:
        client = smtplib.SMTP(host, port, timeout=config.timeout)
    with client:
        if config.starttls:
            client.starttls(context=ssl.create_default_context())
        if config.username:
            client.login(config.username, config.password() or "")
        client.send_message(message)


def _send_log(config: ChannelConfig, notification: Notification) -> None:
    log.warning(
        "alert %s: %s %s",
        notification.status,
        notification.summary,
        json.dumps(notification.alert, default=str),
    )


def _describe(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"unreachable: {error.reason}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


_senders: dict[str, Callable[[ChannelConfig, Notification], None]] = {
    "webhook": _send_webhook,
    "slack": _send_slack,
    "email": _send_email,
    "log": _send_log,
}
