"""Receivers for alert deliveries (``tests.receivers``), and a registry with a model and its figures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from shipyard import Registry
from shipyard.monitoring.series import save_window
from shipyard.monitoring.windows import FeatureQuality, WindowResult
from tests.receivers import MailReceiver, WebhookReceiver, mail_receiver

HOUR = timedelta(hours=1)
#: Monitoring windows in these tests start here; evaluations happen some minutes into a window.
T0 = datetime(2026, 11, 26, 8, tzinfo=UTC)


@pytest.fixture
def smtp() -> Iterator[MailReceiver]:
    with mail_receiver() as receiver:
        yield receiver


def hook_channel(webhook: WebhookReceiver) -> str:
    """TOML: the channel ``hook`` posting to ``webhook`` (no backoff: tests need no waiting) as default."""
    return f"""
[alerts]
default_channels = ["hook"]
[alerts.channels.hook]
type = "webhook"
url = "{webhook.url}"
backoff = 0
"""


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
