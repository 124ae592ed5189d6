"""No verdict on a handful of rows: four copies of one request give no drift, quality or accuracy verdict
(the figures are shown, marked "not enough data"), ten thousand shifted rows still drift, and each model's
minimums come from its [monitoring] table."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from shipyard import Registry
from shipyard.cli import main
from shipyard.config import CONFIG_FILE
from shipyard.errors import InvalidInput
from shipyard.monitoring import attach_labels
from shipyard.monitoring.policy import MinimumRows, load_monitoring_policy, monitoring_policy_from_dict
from shipyard.monitoring.report import build_drift_report
from shipyard.monitoring.series import run_monitors, series
from shipyard.predictions import PredictionLog
from shipyard.registry import ModelVersion
from tests.models import transactions
from tests.monitoring.conftest import log_request
from tests.serving.conftest import FEATURES

HOUR = timedelta(hours=1)
#: The hour of four identical rows; the next hour holds 10,000 rows whose amounts are 4× larger.
FEW = datetime(2026, 6, 1, 10, tzinfo=UTC)


@pytest.fixture(scope="module")
def sparse(trained: tuple[Path, ModelVersion], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the trained workspace: one request of 4 identical rows, then 10,000 shifted rows."""
    home = tmp_path_factory.mktemp("sparse") / "ws"
    shutil.copytree(trained[0], home)
    with Registry(home=home) as registry:
        version = registry.resolve("fraud/1")
        row = transactions(rows=1, seed=3)[FEATURES]
        ids = log_request(
            registry, version, pd.concat([row] * 4, ignore_index=True), FEW + timedelta(minutes=5)
        )
        shifted = transactions(rows=10_000, seed=4)[FEATURES]
        log_request(
            registry, version, shifted.assign(amount=shifted["amount"] * 4), FEW + HOUR + timedelta(minutes=5)
        )
        attach_labels(
            registry, PredictionLog(registry.settings.log_url), [(i, 1) for i in ids], settle_seconds=0
        )
    return home


def test_four_identical_rows_give_no_verdict_and_ten_thousand_shifted_rows_still_drift(sparse: Path) -> None:
    with Registry(home=sparse) as registry:
        version = registry.resolve("fraud/1")
        log = PredictionLog(registry.settings.log_url)
        few, many = run_monitors(registry, log, [version], FEW, FEW + 2 * HOUR, HOUR)
        drifted = series(registry, "fraud", "drift.drifted", HOUR, column="amount")
        share = series(registry, "fraud", "drift.dataset", HOUR)
        missing = series(registry, "fraud", "quality.missing_rate", HOUR, column="amount")
        accuracy = series(registry, "fraud", "accuracy.accuracy", HOUR)

    assert few.rows == 4 and few.drift is not None and few.output_drift is not None
    # The scores are still computed and shown; the verdicts are withheld.
    assert all(column.insufficient and not column.drifted for column in few.drift.columns)
    assert all(column.scores for column in few.drift.columns if column.kind == "numeric")
    assert not few.drift.drifted and few.drift.drifted_share is None and few.drift.insufficient
    assert few.insufficient == {
        "drift": "not enough data (4 rows, needs 100)",
        "output_drift": "not enough data (4 rows, needs 100)",
        "dataset_drift": "not enough data (4 rows, needs 100)",
        "quality": "not enough data (4 rows, needs 30)",
        "accuracy": "not enough data (4 labelled rows, needs 50)",
    }
    assert few.quality["amount"].missing_rate == 0.0 and few.accuracy["accuracy"] is not None
    # Stored for alerts and charts: nothing to fire on in the window of four rows.
    assert [value for _, _, value in drifted] == [None, 1.0]
    assert [value for _, _, value in share] == [None, 0.0]  # one feature of three moved: no dataset drift
    assert [value for _, _, value in missing] == [None, 0.0]
    assert [value for _, _, value in accuracy] == [None]

    assert many.rows == 10_000 and many.drift is not None and many.insufficient == {}
    assert many.drift.drifted_columns == ["amount"] and many.drift.drifted_share == pytest.approx(1 / 3)


def test_the_report_and_monitor_show_say_not_enough_data(
    sparse: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with Registry(home=sparse) as registry:
        log = PredictionLog(registry.settings.log_url)
        report = build_drift_report(registry, log, "fraud/1", FEW, FEW + HOUR, HOUR)
    (verdict,) = report.verdicts
    assert verdict.verdict == "not enough data" and verdict.reason == "not enough data (4 rows, needs 100)"
    assert report.headline()[0] == (
        "No drift verdict in the one window (1h): not enough data (4 rows, needs 100) at the busiest."
    )
    monkeypatch.setenv("SHIPYARD_HOME", str(sparse))
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["monitor", "show", "fraud/1", "--last", "2"]) == 0
    shown = capsys.readouterr().out
    assert "not enough data (4 rows, needs 100)" in shown
    assert "(not enough data (4 labelled rows, needs 50))" in shown


def test_each_models_minimums_come_from_its_monitoring_table(sparse: Path) -> None:
    (sparse / CONFIG_FILE).write_text(
        "[monitoring]\nmin_rows = { quality = 2 }\n"
        "[monitoring.models.fraud]\nmin_rows = { drift = 3, dataset_drift = 4, accuracy = 4 }\n",
        encoding="utf-8",
    )
    try:
        with Registry(home=sparse) as registry:
            assert load_monitoring_policy(registry.settings, "fraud").min_rows == MinimumRows(3, 4, 2, 4)
            assert load_monitoring_policy(registry.settings, "churn").min_rows == MinimumRows(quality=2)
            log = PredictionLog(registry.settings.log_url)
            (few,) = run_monitors(registry, log, [registry.resolve("fraud/1")], FEW, FEW + HOUR, HOUR)
    finally:
        (sparse / CONFIG_FILE).unlink()
    assert few.insufficient == {}
    assert few.drift is not None and not few.drift.insufficient and few.drift.drifted_share is not None
    assert few.to_dict()["min_rows"] == {"drift": 3, "dataset_drift": 4, "quality": 2, "accuracy": 4}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"min_row": {}}, "[monitoring] has an unknown key 'min_row'; did you mean 'min_rows'?"),
        (
            {"min_rows": {"drfit": 5}},
            "[monitoring] min_rows has an unknown key 'drfit'; did you mean 'drift'?",
        ),
        ({"min_rows": {"drift": -1}}, "min_rows.drift must be a whole number of at least 0, got '-1'"),
        ({"min_rows": {"quality": 2.5}}, "min_rows.quality must be a whole number of at least 0"),
        ({"max_windows": 0}, "max_windows must be a whole number of at least 1"),
        ({"min_rows": 100}, "[monitoring] min_rows must be a table of settings"),
        ({"models": {"fraud": {"window": "1h"}}}, "[monitoring.models.fraud] has an unknown key 'window'"),
    ],
)
def test_a_wrong_monitoring_table_is_refused_naming_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        monitoring_policy_from_dict(table, "fraud")
    assert message in str(refused.value)
