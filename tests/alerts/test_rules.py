"""Loading alert rules: every mistake is caught at load time and the message lists what exists."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from shipyard import Registry
from shipyard.alerts import load_alerts
from shipyard.config import CONFIG_FILE
from shipyard.errors import ConfigurationError
from shipyard.monitoring.figures import HEALTH, catalogue
from shipyard.monitoring.series import _figures
from shipyard.monitoring.windows import FeatureQuality, WindowResult
from shipyard.stats.drift import ColumnDrift, DatasetDrift
from tests.alerts.conftest import T0, register_fraud


@pytest.fixture
def fraud(workspace: Path) -> Registry:
    registry = Registry(home=workspace)
    register_fraud(registry)
    return registry


def rules(registry: Registry, text: str) -> None:
    (registry.settings.home / CONFIG_FILE).write_text(text, encoding="utf-8")


def rule(**fields: object) -> str:
    body = "\n".join(f"{key} = {value!r}".replace("'", '"') for key, value in fields.items())
    return f"[alerts.defaults]\nenabled = false\n[[alerts.rules]]\n{body}\n"


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"figure": "health.p99"}, "figure 'health.p99' not found; did you mean 'health.latency_p99_ms'"),
        ({"figure": "latency"}, "did you mean 'health.latency_p50_ms', 'health.latency_p95_ms', 'health.lat"),
        (
            {"figure": "nothing.like.it"},
            f"({len(catalogue())} exist; list them with 'shipyard alerts figures')",
        ),
        ({"figure": "drift.distance"}, "is a figure of a column: add column"),
        ({"figure": "health.error_rate", "column": "amount"}, "of the whole window: remove column"),
        ({"model": "fruad"}, "unknown model 'fruad'; models: fraud"),
        ({"model": "fraud@staging"}, "staging"),
        (
            {"figure": "drift.p_value", "column": "amout"},
            "fraud/2 has no column 'amout'; columns: amount, hour",
        ),
        ({"channels": ["pager"]}, "unknown channel(s) pager; channels: log"),
        ({"window": "30s"}, "window lasts at least 1m"),
        ({"for": "soon"}, "for is a number and a unit"),
        ({"model": "fraud", "actions": [{"type": "rollback"}]}, "a rollback needs an alias"),
    ],
)
def test_a_rule_naming_what_does_not_exist_fails_at_load_listing_what_does(
    fraud: Registry, fields: dict[str, object], problem: str
) -> None:
    declared = {
        "name": "r",
        "model": "fraud@production",
        "figure": "health.error_rate",
        "above": 0.1,
        **fields,
    }
    text = rule(**declared).replace('actions = [{"type": "rollback"}]', 'actions = [{type = "rollback"}]')
    rules(fraud, text)
    with pytest.raises(ConfigurationError) as caught:
        load_alerts(fraud.settings, fraud)
    assert "alert rule 'r'" in str(caught.value) and problem in str(caught.value)


def test_malformed_rules_and_files_are_refused_with_the_reason(fraud: Registry, tmp_path: Path) -> None:
    for text, problem in (
        (rule(name="r", figure="health.error_rate"), "one condition"),
        (rule(name="r", figure="health.error_rate", above=1, below=0), "one condition"),
        (rule(name="r", figure="health.error_rate", outside=[2, 1]), "low <= high"),
        (rule(name="r", figure="health.error_rate", above=1, severity="urgent"), "severity"),
        (rule(name="r", figure="health.error_rate", above=1, colour="red"), "colour"),
        (
            rule(name="r", figure="health.error_rate", above=1)
            + '[[alerts.rules]]\nname = "r"\nfigure = "health.error_rate"\nabove = 2\n',
            "two alert rules are named 'r'",
        ),
        ("[alerts\n", "not valid TOML"),
        ('[alerts.channels.x]\ntype = "webhook"\n', "needs url"),
        ('[alerts.channels.x]\ntype = "slack"\nurl = "file:///etc/passwd"\n', "url has scheme 'file'"),
    ):
        rules(fraud, text)
        with pytest.raises(ConfigurationError, match=problem):
            load_alerts(fraud.settings, fraud)
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_alerts(fraud.settings, fraud, alerts_file=tmp_path / "missing.toml")


def test_every_served_model_gets_default_rules_and_a_declared_rule_replaces_one(fraud: Registry) -> None:
    assert load_alerts(fraud.settings, fraud).rules == []  # nothing served, nothing declared
    config = load_alerts(fraud.settings, fraud, ["fraud@production"])
    assert [(r.name, r.figure, r.default) for r in config.rules] == [
        ("fraud:error-rate", "health.error_rate", True),
        ("fraud:latency-p99", "health.latency_p99_ms", True),
        ("fraud:dataset-drift", "drift.dataset", True),
        ("fraud:accuracy-drop", "accuracy.accuracy", True),
    ]
    drop = config.rules[-1]
    assert drop.condition.describe() == "change vs the last 1d < -0.1" and drop.channels == ("log",)
    rules(
        fraud,
        '[alerts.defaults]\nlatency_p99_ms = 80\n[[alerts.rules]]\nname = "fraud:error-rate"\n'
        'model = "fraud@production"\nfigure = "health.error_rate"\nabove = 0.5\n',
    )
    config = load_alerts(fraud.settings, fraud, ["fraud@production"])
    by_name = {r.name: r for r in config.rules}
    assert not by_name["fraud:error-rate"].default and by_name["fraud:error-rate"].condition.high == 0.5
    assert by_name["fraud:latency-p99"].condition.high == 80 and by_name[
        "fraud:latency-p99"
    ].for_ == timedelta(minutes=5)


def test_the_catalogue_names_every_figure_a_window_stores() -> None:
    result = WindowResult("fraud", 1, T0, T0 + timedelta(hours=1), rows=5, failed_requests=1)
    result.failures = {"rejected": 1.0}
    tested = ColumnDrift("amount", "numeric", "ks", 0.05, 0.01, None, True, {"psi": 0.4, "ks": 0.3}, 10, 5)
    measured = ColumnDrift(
        "hour", "numeric", "wasserstein", 0.1, None, 0.3, True, {"wasserstein": 0.3}, 10, 5
    )
    result.drift = result.output_drift = DatasetDrift([tested, measured], 0.5)
    result.quality = {"amount": FeatureQuality(0.0, 0.1, None, None, 2.0, 0.1)}
    result.accuracy = {"accuracy": 0.9, "roc_auc": 0.8}
    result.health = dict.fromkeys(HEALTH, 1.0)
    known = catalogue()
    stored = list(_figures(result))
    for metric, column_name, _ in stored:
        assert metric in known, metric
        assert known[metric] == bool(column_name), metric
    drift = {(metric, column): value for metric, column, value in stored if metric.startswith("drift.")}
    assert drift[("drift.p_value", "amount")] == 0.01 and ("drift.distance", "amount") not in drift
    assert drift[("drift.distance", "hour")] == 0.3 and ("drift.p_value", "hour") not in drift
    assert "drift.score" not in known and "output_drift.score" not in known
