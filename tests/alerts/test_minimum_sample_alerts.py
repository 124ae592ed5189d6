"""A window with too few rows for a verdict moves no alert: a rule never fires on a handful of drifting rows,
and a firing alert is neither resolved nor fired again by one."""

from __future__ import annotations

from datetime import datetime, timedelta

from shipyard import Registry
from shipyard.alerts import AlertEvaluator, load_alerts
from shipyard.config import CONFIG_FILE
from shipyard.monitoring.policy import MinimumRows
from shipyard.monitoring.series import save_window
from shipyard.monitoring.windows import WindowResult
from shipyard.stats import Profile
from shipyard.stats.drift import DriftOptions, compare
from shipyard.store.alerts import AlertRepository
from tests.alerts.conftest import HOUR, T0, WebhookReceiver, hook_channel, register_fraud
from tests.alerts.test_drift_rules import _frame

RULE = '[[alerts.rules]]\nname = "amount-drifted"\nmodel = "fraud@production"\nfigure = "drift.drifted"\n'
RULE += 'column = "amount"\nabove = 0.5\n[alerts.defaults]\nenabled = false\n'


def _window(registry: Registry, start: datetime, rows: int, shift: float) -> WindowResult:
    """A window of ``rows`` rows, amount moved by ``shift`` deviations, judged with the default minimums."""
    least = MinimumRows()
    reference = Profile.build(_frame(20_000, 0.0, seed=0))
    window = Profile.build(_frame(rows, shift, seed=1), reference.layout)
    result = WindowResult("fraud", 2, start, start + HOUR, rows=rows, requests=rows, minimums=least)
    result.drift = compare(
        reference, window, DriftOptions(min_rows=least.drift, min_dataset_rows=least.dataset_drift)
    )
    save_window(registry, result, HOUR)
    return result


def _states(registry: Registry, now: datetime) -> list[tuple[str, str]]:
    outcomes = AlertEvaluator(registry, load_alerts(registry.settings, registry)).evaluate(now)
    return [(outcome.before, outcome.after) for outcome in outcomes]


def test_a_handful_of_drifting_rows_never_fires(registry: Registry, webhook: WebhookReceiver) -> None:
    register_fraud(registry)
    (registry.settings.home / CONFIG_FILE).write_text(hook_channel(webhook) + RULE, encoding="utf-8")
    few = _window(registry, T0, rows=4, shift=5.0)
    assert few.drift is not None and few.drift.columns[0].insufficient and not few.drift.columns[0].drifted
    assert _states(registry, T0 + timedelta(minutes=70)) == []
    assert webhook.received == []


def test_a_firing_alert_holds_through_a_window_of_too_few_rows(
    registry: Registry, webhook: WebhookReceiver
) -> None:
    register_fraud(registry)
    (registry.settings.home / CONFIG_FILE).write_text(hook_channel(webhook) + RULE, encoding="utf-8")
    _window(registry, T0, rows=5_000, shift=1.0)
    assert _states(registry, T0 + timedelta(minutes=70)) == [("inactive", "firing")]
    # The next hour brings four calm rows: too few to say the drift is over.
    _window(registry, T0 + HOUR, rows=4, shift=0.0)
    assert _states(registry, T0 + timedelta(minutes=130)) == []  # nothing moved
    assert AlertRepository(registry.db).open_alerts("amount-drifted") == {("fraud", 2)}
    assert len(webhook.received) == 1
    # An hour of enough calm rows resolves it.
    _window(registry, T0 + 2 * HOUR, rows=5_000, shift=0.0)
    assert _states(registry, T0 + timedelta(minutes=190)) == [("firing", "resolved")]
