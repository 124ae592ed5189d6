"""Each channel against a real receiver on 127.0.0.1: signed webhook, Slack payload, SMTP mail, the log."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from pathlib import Path

import pytest

from shipyard.alerts import Notification, deliver
from shipyard.alerts.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER
from shipyard.alerts.rules import ChannelConfig
from shipyard.errors import ConfigurationError
from tests.alerts.conftest import MailReceiver, WebhookReceiver

NOTE = Notification(
    "firing",
    "CRITICAL slow — fraud/2 health.latency_p99_ms = 250 (value > 100)",
    {"rule": "slow", "model": "fraud", "version": 2, "figure": "health.latency_p99_ms", "value": 250.0},
)


def test_a_webhook_gets_the_json_signed_with_the_secret(
    webhook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    config = ChannelConfig(
        type="webhook", url=webhook.url, secret_env="HOOK_SECRET", headers={"X-Team": "risk"}
    )
    [delivery] = deliver(NOTE, {"hook": config})
    assert delivery.delivered and delivery.attempts == 1
    [request] = webhook.received
    assert request.json() == {**NOTE.to_dict()}
    stamp, signature = request.headers[TIMESTAMP_HEADER], request.headers[SIGNATURE_HEADER]
    expected = hmac.new(b"s3cret", stamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}" and abs(int(stamp) - time.time()) < 60
    assert request.headers["X-Team"] == "risk"

    monkeypatch.delenv("HOOK_SECRET")
    [failed] = deliver(NOTE, {"hook": config.model_copy(update={"attempts": 1})})
    assert not failed.delivered and "$HOOK_SECRET is not set" in failed.error


def test_a_slack_webhook_gets_text_and_blocks(webhook: WebhookReceiver) -> None:
    [delivery] = deliver(NOTE, {"team": ChannelConfig(type="slack", url=webhook.url)})
    payload = webhook.received[0].json()
    assert delivery.delivered and payload["text"].startswith(":rotating_light: CRITICAL slow")
    fields = payload["blocks"][1]["fields"]
    assert {"type": "mrkdwn", "text": "*value*\n250.0"} in fields


def test_email_goes_through_a_real_smtp_server(smtp: MailReceiver) -> None:
    config = ChannelConfig.model_validate(
        {"type": "email", "host": "127.0.0.1", "port": smtp.port, "from": "shipyard@example.com",
         "to": ["oncall@example.com", "risk@example.com"]}
    )  # fmt: skip
    [delivery] = deliver(NOTE, {"mail": config})
    assert delivery.delivered
    [message] = smtp.messages
    assert message["Subject"] == f"[FIRING] {NOTE.summary}"
    assert message["To"] == "oncall@example.com, risk@example.com"
    assert "figure: health.latency_p99_ms" in message.get_content()


def test_a_hanging_receiver_is_cut_off_and_does_not_delay_the_others(
    webhook: WebhookReceiver, smtp: MailReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    webhook.behaviour = "hang"
    webhook.hang_seconds = 2.0
    hanging = ChannelConfig(type="webhook", url=webhook.url, timeout=0.5, attempts=2, backoff=0.1)
    mail = ChannelConfig.model_validate(
        {
            "type": "email",
            "host": "127.0.0.1",
            "port": smtp.port,
            "from": "a@example.com",
            "to": ["b@example.com"],
        }
    )
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="shipyard.alerts"):
        hook, sent, logged = deliver(NOTE, {"hook": hanging, "mail": mail, "log": ChannelConfig(type="log")})
    elapsed = time.monotonic() - started
    assert not hook.delivered and hook.attempts == 2 and "timed out" in hook.error
    assert sent.delivered and logged.delivered and len(smtp.messages) == 1
    assert sent.seconds < 1.0 <= hook.seconds  # the mail did not wait for the webhook
    assert elapsed < 2 * 0.5 + 0.1 + 1.0  # bounded: attempts × timeout + backoff, plus slack
    assert any("alert firing: CRITICAL slow" in record.getMessage() for record in caplog.records)


def test_an_unreachable_receiver_is_named_in_the_error() -> None:
    config = ChannelConfig(type="webhook", url="http://127.0.0.1:9/hook", attempts=2, backoff=0)
    [delivery] = deliver(NOTE, {"hook": config})
    assert not delivery.delivered and delivery.error.startswith("unreachable:")


def test_channels_declare_what_they_need() -> None:
    for broken, problem in (
        ({"type": "webhook"}, "needs url"),
        ({"type": "email", "host": "smtp"}, "needs host, from and to"),
        ({"type": "pager"}, "type"),
    ):
        with pytest.raises(ValueError, match=problem):
            ChannelConfig.model_validate(broken)
    with pytest.raises(ConfigurationError, match=r"\$NOPE is not set"):
        ChannelConfig(type="email", host="h", sender="a@b", to=["c@d"], password_env="NOPE").password()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("file:///etc/passwd", "scheme 'file'; it must start with http:// or https://"),
        ("ftp://files.example.com/hook", "scheme 'ftp'"),
        ("gopher://example.com:70/_POST", "scheme 'gopher'"),
        ("javascript:alert(1)", "scheme 'javascript'"),
        ("hooks.example.com/shipyard", "no scheme"),
        ("https:///services/T000/B000/secret", "no host"),
        ("http://hooks.example.com:99999/x", "invalid port"),
        ("https://hooks.example.com/a b", "spaces or control characters"),
    ],
)
def test_a_webhook_url_must_be_http_or_https_with_a_host(url: str, problem: str) -> None:
    for kind in ("webhook", "slack"):
        with pytest.raises(ValueError, match=problem) as refused:
            ChannelConfig(type=kind, url=url)  # type: ignore[arg-type]
        assert "secret" not in str(refused.value)  # the path of a webhook URL is its secret: never echoed


def test_a_channel_built_without_validation_still_never_opens_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not send")
    config = ChannelConfig.model_construct(type="webhook", url=secret.as_uri(), attempts=1, backoff=0.0)
    [delivery] = deliver(NOTE, {"hook": config})
    assert not delivery.delivered and "scheme 'file'" in delivery.error
