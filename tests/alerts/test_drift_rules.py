"""Drift figures each mean one thing: rules on them fire at every window size, and rules on the retired
``drift.score`` (a p-value in small windows, a distance in large ones) are migrated or refused."""

from __future__ import annotations

from datetime import timedelta
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine

from shipyard import Registry
from shipyard.alerts import AlertEvaluator, add_rule, load_alerts, remove_rule
from shipyard.config import CONFIG_FILE
from shipyard.errors import ConfigurationError
from shipyard.monitoring.series import save_window, series
from shipyard.monitoring.windows import WindowResult
from shipyard.stats import Profile
from shipyard.stats.drift import compare
from shipyard.store.database import HEAD_REVISION
from tests.alerts.conftest import HOUR, T0, WebhookReceiver, hook_channel, register_fraud

NOW = T0 + timedelta(minutes=70)


def _frame(rows: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"amount": rng.normal(50 + 10 * shift, 10, rows), "hour": rng.normal(12, 4, rows)})


def record_drift(registry: Registry, rows: int, shift: float) -> WindowResult:
    """A window of ``rows`` rows whose ``amount`` moved by ``shift`` standard deviations, as the runner stores
    it (the drift computed by the real code from profiles)."""
    reference = Profile.build(_frame(20_000, 0.0, seed=0))
    window = Profile.build(_frame(rows, shift, seed=1), reference.layout)
    result = WindowResult("fraud", 2, T0, T0 + HOUR, rows=rows, requests=rows)
    result.drift = compare(reference, window)
    save_window(registry, result, HOUR)
    return result


def drift_rules(webhook: WebhookReceiver) -> str:
    """The rules docs/alerts.md and docs/monitoring.md show for drift."""
    rules = hook_channel(webhook) + "[alerts.defaults]\nenabled = false\n"
    for name, figure, condition in (
        ("amount-psi", "drift.psi", "above = 0.2"),
        ("amount-drifted", "drift.drifted", "above = 0.5"),
        ("amount-tested", "drift.p_value", "below = 0.05"),
        ("amount-distance", "drift.distance", "above = 0.1"),
    ):
        rules += (
            f'[[alerts.rules]]\nname = "{name}"\nmodel = "fraud@production"\nfigure = "{figure}"\n'
            f'column = "amount"\n{condition}\n'
        )
    return rules


@pytest.mark.parametrize(("rows", "fired"), [(300, "amount-tested"), (5_000, "amount-distance")])
def test_drift_rules_fire_on_small_and_large_windows_alike(
    registry: Registry, webhook: WebhookReceiver, rows: int, fired: str
) -> None:
    register_fraud(registry)
    (registry.settings.home / CONFIG_FILE).write_text(drift_rules(webhook), encoding="utf-8")
    result = record_drift(registry, rows, shift=1.0)
    assert result.drift is not None and result.drift.columns[0].drifted
    outcomes = AlertEvaluator(registry, load_alerts(registry.settings, registry)).evaluate(NOW)
    # The verdict and PSI fire at every size; the deciding p-value or distance, whichever the size gives.
    assert sorted(o.rule for o in outcomes if o.after == "firing") == sorted(
        ["amount-psi", "amount-drifted", fired]
    )
    assert len(webhook.received) == 3

    record_drift(registry, rows, shift=0.0)  # the same window, computed again without drift: all resolve
    outcomes = AlertEvaluator(registry, load_alerts(registry.settings, registry)).evaluate(NOW)
    assert sorted(o.after for o in outcomes) == ["resolved"] * 3


@pytest.mark.parametrize(
    ("condition", "instead"),
    [
        ("above = 0.2", "Use 'drift.distance' (the deciding distance, high = drift"),
        ("below = 0.05", "'drift.p_value'"),
    ],
)
def test_a_declared_rule_on_the_retired_drift_score_is_refused_with_what_to_use(
    registry: Registry, condition: str, instead: str
) -> None:
    register_fraud(registry)
    (registry.settings.home / CONFIG_FILE).write_text(
        f'[[alerts.rules]]\nname = "amount-drift"\nfigure = "drift.score"\ncolumn = "amount"\n{condition}\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError) as caught:
        load_alerts(registry.settings, registry)
    message = str(caught.value)
    assert message.startswith("alert rule 'amount-drift' (shipyard.toml): figure 'drift.score' was retired")
    assert "a p-value (low = drift) in windows of 1,000 rows or fewer and a distance" in message
    assert (
        instead in message
        and "'drift.drifted' above 0.5" in message
        and "edit it in shipyard.toml" in message
    )
    with pytest.raises(
        ConfigurationError,
        match="add it again with 'shipyard alerts add r --figure output_drift.distance … --replace'",
    ):
        add_rule(registry, {"name": "r", "figure": "output_drift.score", "column": "_prediction", "above": 1})


def _alembic(url: str, revision: str, *, down: bool = False) -> None:
    engine = create_engine(url)  # a bare engine, as an older shipyard would leave the database
    config = Config()
    config.set_main_option("script_location", str(resources.files("shipyard.store") / "migrations"))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)
        connection.commit()
    engine.dispose()


def test_upgrading_moves_stored_rules_and_figures_off_the_retired_drift_score(
    workspace: Path, registry_url: str
) -> None:
    with Registry(home=workspace, registry_url=registry_url) as registry:
        register_fraud(registry)
        small = record_drift(registry, 300, shift=1.0).drift  # decided by KS: a p-value
        for name, condition in (
            ("rising", {"above": 0.2}),
            ("falling", {"below": 0.05}),
            ("band", {"outside": [0, 1]}),
        ):
            add_rule(registry, {"name": name, "figure": "drift.distance", "column": "amount", **condition})
    # As a database written before the figure was split: every drift.p_value / drift.distance was drift.score.
    _alembic(registry_url, "0008_schedules", down=True)
    with Registry(home=workspace, registry_url=registry_url) as registry:  # opening it migrates it
        assert registry.db.current_revision() == HEAD_REVISION
        assert small is not None
        assert (
            series(registry, "fraud", "drift.p_value", HOUR, column="amount")[0][2]
            == small.columns[0].p_value
        )
        assert series(registry, "fraud", "drift.distance", HOUR, column="hour") == []
        assert series(registry, "fraud", "drift.score", HOUR, column="amount") == []
        with pytest.raises(
            ConfigurationError, match="alert rule 'band' \\(added\\): figure 'drift.score' was retired"
        ):
            load_alerts(registry.settings, registry)
        remove_rule(registry, "band")
        figures = {rule.name: rule.figure for rule in load_alerts(registry.settings, registry).rules}
    assert figures == {"rising": "drift.distance", "falling": "drift.p_value"}


def test_upgrading_names_a_large_windows_score_a_distance(workspace: Path, registry_url: str) -> None:
    with Registry(home=workspace, registry_url=registry_url) as registry:
        register_fraud(registry)
        large = record_drift(registry, 5_000, shift=1.0).drift
    _alembic(registry_url, "0008_schedules", down=True)
    _alembic(registry_url, "head")
    with Registry(home=workspace, registry_url=registry_url) as registry:
        assert large is not None
        assert (
            series(registry, "fraud", "drift.distance", HOUR, column="amount")[0][2]
            == large.columns[0].distance
        )
        assert series(registry, "fraud", "drift.p_value", HOUR, column="amount") == []
