"""A rule's window belongs to the rule: ``shipyard alerts evaluate`` beside a server reads the windows the
server's evaluation reads, or is refused, so one incident notifies once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from shipyard import Registry
from shipyard.alerts import AlertEvaluator, current_alerts, load_alerts, load_alerts_as_served
from shipyard.cli import main
from shipyard.config import CONFIG_FILE
from shipyard.errors import Conflict
from tests.alerts.conftest import T0, WebhookReceiver, hook_channel, record_window, register_fraud

SERVED = timedelta(minutes=15)  # the server's --monitor-window
MINUTE = timedelta(minutes=1)


def server_evaluates(workspace: Path, at: timedelta) -> None:
    """What the server's monitoring runner does after each run: the default rules over its own windows."""
    with Registry(home=workspace) as registry:
        config = load_alerts(registry.settings, registry, ["fraud@production"], window=SERVED)
        AlertEvaluator(registry, config).evaluate(T0 + at)


@pytest.fixture
def incident(workspace: Path, webhook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> Path:
    """fraud@production failing half its requests in every 15-minute window from T0 on."""
    monkeypatch.setenv("SHIPYARD_HOME", str(workspace))
    (workspace / CONFIG_FILE).write_text(hook_channel(webhook), encoding="utf-8")
    with Registry(home=workspace) as registry:
        register_fraud(registry)
        for index in range(4):
            record_window(registry, T0 + index * SERVED, version=2, window=SERVED, health={"error_rate": 0.5})
    return workspace


def test_a_manual_evaluation_beside_a_server_neither_resolves_nor_refires_its_alert(
    incident: Path, webhook: WebhookReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    server_evaluates(incident, 16 * MINUTE)  # pending (the default error-rate rule holds for 5m)
    server_evaluates(incident, 22 * MINUTE)  # firing: the one notification of this incident
    assert [event.json()["status"] for event in webhook.received] == ["firing"]

    at = (T0 + 24 * MINUTE).isoformat()
    # Without --window the default rules read the server's windows: the alert is still firing, nothing sent.
    assert main(["alerts", "evaluate", "--serve", "fraud@production", "--at", at]) == 0
    assert "nothing changed" in capsys.readouterr().out
    assert main(["alerts", "rules", "--serve", "fraud@production", "--json"]) == 0
    assert '"window": "15m"' in capsys.readouterr().out
    # Another window would read other figures (none here) and resolve the server's alert: refused.
    assert main(["alerts", "evaluate", "--serve", "fraud@production", "--window", "1h", "--at", at]) == 4
    error = capsys.readouterr().err
    assert "'fraud:error-rate' was last evaluated over 15m windows" in error
    assert "--window 15m" in error and 'window = "15m" in [alerts.defaults]' in error
    assert main(["alerts", "evaluate", "--serve", "fraud@production", "--window", "15m", "--at", at]) == 0

    server_evaluates(incident, 28 * MINUTE)
    server_evaluates(incident, 31 * MINUTE)
    assert [event.json()["status"] for event in webhook.received] == ["firing"]  # one incident, once
    with Registry(home=incident) as registry:
        assert [(a["rule"], a["state"], a["window"]) for a in current_alerts(registry)] == [
            ("fraud:error-rate", "firing", "15m")
        ]


def test_a_declared_default_window_decides_and_a_disagreeing_one_is_refused(incident: Path) -> None:
    text = (incident / CONFIG_FILE).read_text()
    (incident / CONFIG_FILE).write_text(text + '[alerts.defaults]\nwindow = "15m"\n', encoding="utf-8")
    with Registry(home=incident) as registry:
        config = load_alerts_as_served(registry, ["fraud@production"])
        assert {rule.window for rule in config.rules} == {SERVED}
        with pytest.raises(
            Conflict, match=r"the default rules read 15m windows \(\[alerts.defaults\] window"
        ):
            load_alerts_as_served(registry, ["fraud@production"], timedelta(hours=1))


def test_without_a_server_the_given_window_or_an_hour_is_read(incident: Path) -> None:
    with Registry(home=incident) as registry:
        assert {r.window for r in load_alerts_as_served(registry, ["fraud@production"]).rules} == {
            timedelta(hours=1)
        }
        config = load_alerts_as_served(registry, ["fraud@production"], SERVED)
        assert {rule.window for rule in config.rules} == {SERVED}
        assert [o.after for o in AlertEvaluator(registry, config).evaluate(T0 + 16 * MINUTE)] == ["pending"]
