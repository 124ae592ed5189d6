"""Monitoring windows over a real prediction log: drift flags exactly what moved, accuracy follows labels."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from shipyard import Registry
from shipyard.cli import main
from shipyard.config import load_settings
from shipyard.errors import InvalidInput
from shipyard.monitor_runner import MonitorRunner, RunnerConfig
from shipyard.monitoring import attach_labels
from shipyard.monitoring.series import parse_window, run_monitors, series, stored_windows, window_starts
from shipyard.monitoring.windows import monitor_window
from shipyard.predictions import LogWriter, PredictionLog, PredictionRecord, SegmentStore
from shipyard.registry import ModelVersion
from tests.models import transactions
from tests.predictions.conftest import record, write_segments
from tests.served import served_record
from tests.serving.conftest import FEATURES

HOUR = timedelta(hours=1)


def _traffic(
    registry: Registry, version: ModelVersion, frame: pd.DataFrame, at: datetime, writer: LogWriter
) -> list[PredictionRecord]:
    """Serve ``frame`` in requests of 5 rows, as the server would log them, at ``at``."""
    model = registry.load_model(version.ref)
    records = []
    for start in range(0, len(frame), 5):
        rows = frame.iloc[start : start + 5].reset_index(drop=True)
        record = served_record(model, version, rows, at, latency=0.002 + start * 1e-6)
        writer.submit(record)
        records.append(record)
    return records


@dataclass(frozen=True)
class Logged:
    home: Path
    version: ModelVersion
    start: datetime  # the calm hour; the next one drifts; the two after it have no traffic


@pytest.fixture(scope="module")
def logged(trained: tuple[Path, ModelVersion]) -> Logged:
    """An hour of traffic like training, then an hour where amounts are 4× larger and labels flipped."""
    home, version = trained
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 5 * HOUR
    calm = transactions(rows=1500, seed=11)
    shifted = transactions(rows=1500, seed=12)
    with Registry(home=home) as registry:
        writer = LogWriter(registry.settings.log_url, flush_seconds=60)
        first = _traffic(registry, version, calm[FEATURES], start + timedelta(minutes=10), writer)
        moved = shifted[FEATURES].assign(amount=shifted["amount"] * 4)
        second = _traffic(registry, version, moved, start + HOUR + timedelta(minutes=10), writer)
        writer.close()
        truth = calm["fraud"].tolist()
        flipped = (1 - shifted["fraud"]).tolist()  # the world changed: yesterday's rule is now wrong
        pairs = [(pid, truth[i]) for i, pid in enumerate(p for r in first for p in r.prediction_ids)]
        late = [(pid, flipped[i]) for i, pid in enumerate(p for r in second for p in r.prediction_ids)]
        attach_labels(
            registry, PredictionLog(registry.settings.log_url), pairs + late[:600], settle_seconds=0
        )
    return Logged(home, version, start)


def test_the_drifted_window_flags_the_shifted_feature_and_the_accuracy_drop(logged: Logged) -> None:
    start, version = logged.start, logged.version
    with Registry(home=logged.home) as registry:
        log = PredictionLog(registry.settings.log_url)
        before = monitor_window(registry, log, version, start, start + HOUR)
        after = monitor_window(registry, log, version, start + HOUR, start + 2 * HOUR)
        empty = monitor_window(registry, log, version, start + 3 * HOUR, start + 4 * HOUR)

    assert (before.rows, before.requests, before.estimated_requests) == (1500, 300, 300.0)
    assert before.drift is not None and before.drift.drifted_columns == []
    assert after.drift is not None and after.drift.drifted_columns == ["amount"]
    assert after.output_drift is not None and before.output_drift is not None
    assert before.labelled_rows == 1500 and after.labelled_rows == 600
    assert after.accuracy["accuracy"] is not None and before.accuracy["accuracy"] is not None
    assert after.accuracy["accuracy"] < before.accuracy["accuracy"] - 0.3
    moved, calm = after.quality["amount"].out_of_range_share, before.quality["amount"].out_of_range_share
    assert moved is not None and calm is not None and moved > calm
    assert before.quality["channel"].unseen_share == 0.0 and before.quality["hour"].missing_rate == 0.0
    assert before.health["latency_p50_ms"] is not None and before.health["rows_per_request"] == 5.0
    assert before.health["request_rate"] == pytest.approx(300 / 3600)
    assert empty.no_data and empty.drift is None and empty.accuracy == {}
    assert empty.health["latency_p50_ms"] is None and empty.health["request_rate"] == 0.0
    assert after.to_dict()["drift"]["drifted_columns"] == ["amount"]


def test_windows_are_stored_as_a_time_series_and_a_rerun_replaces_them(logged: Logged) -> None:
    start, version = logged.start, logged.version
    with Registry(home=logged.home) as registry:
        log = PredictionLog(registry.settings.log_url)
        for _ in range(2):
            results = run_monitors(registry, log, [version], start, start + 4 * HOUR, HOUR)
        assert [result.no_data for result in results] == [False, False, True, True]
        stored = stored_windows(registry, "fraud", HOUR)
        assert [window.start for window in stored] == [start + n * HOUR for n in range(4)]
        assert stored[1].report["drift"]["drifted_columns"] == ["amount"]
        drifted = series(registry, "fraud", "drift.drifted", HOUR, column="amount")
        assert [value for _, _, value in drifted] == [0.0, 1.0]  # windows without data have no drift figure
        rows = series(registry, "fraud", "rows", HOUR)
        assert [value for _, _, value in rows] == [1500.0, 1500.0, 0.0, 0.0]
        accuracy = series(registry, "fraud", "accuracy.accuracy", HOUR)
        assert accuracy[0][2] is not None and accuracy[1][2] is not None and accuracy[1][2] < accuracy[0][2]
        assert stored_windows(registry, "fraud", HOUR, last=1)[0].start == start + 3 * HOUR
        assert stored_windows(registry, "fraud", timedelta(days=1)) == []


def test_monitor_commands_run_and_show_windows(
    logged: Logged, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHIPYARD_HOME", str(logged.home))
    monkeypatch.setenv("COLUMNS", "250")
    since = logged.start.isoformat()
    until = (logged.start + 2 * HOUR).isoformat()
    assert main(["monitor", "run", "fraud", "--from", since, "--to", until, "--window", "30m", "--json"]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert [report["rows"] for report in reports] == [1500, 0, 1500, 0]
    assert main(["monitor", "show", "fraud/1", "--window", "30m"]) == 0
    shown = capsys.readouterr().out
    assert "amount" in shown and "no data" in shown and "accuracy" in shown
    assert main(["monitor", "show", "fraud", "--window", "2h"]) == 0
    assert "no 2h windows stored" in capsys.readouterr().out
    assert main(["monitor", "run", "fraud", "--window", "10x"]) == 2
    assert "like 30s, 15m, 1h or 1d" in capsys.readouterr().err
    assert main(["monitor", "run", "fraud", "--from", "yesterday"]) == 2
    assert main(["monitor", "run", "fraud", "--from", until, "--to", since]) == 2


def test_window_lengths_and_alignment() -> None:
    assert parse_window("15m") == timedelta(minutes=15) and parse_window(" 1d ") == timedelta(days=1)
    for bad in ("", "1", "h", "30s", "1w", "-1h"):
        with pytest.raises(InvalidInput):
            parse_window(bad)
    moment = datetime(2026, 11, 25, 10, 47, tzinfo=UTC)
    starts = list(window_starts(moment, moment + timedelta(hours=1), timedelta(minutes=30)))
    assert starts == [
        datetime(2026, 11, 25, 10, 30, tzinfo=UTC) + n * timedelta(minutes=30) for n in range(3)
    ]


def test_the_runner_stores_the_last_and_current_window_and_tidies_the_log(logged: Logged) -> None:
    now = logged.start + HOUR + timedelta(minutes=40)
    with Registry(home=logged.home) as registry:
        runner = MonitorRunner(registry.settings, RunnerConfig(["fraud@latest"], 3600, 60.0))
        results = runner.run_once(now)
        assert [(result.start, result.rows) for result in results] == [
            (logged.start, 1500),
            (logged.start + HOUR, 1500),
        ]
        stored = stored_windows(registry, "fraud", HOUR, start=logged.start, end=logged.start + 2 * HOUR)
        assert [window.report["rows"] for window in stored] == [1500, 1500]
        store = PredictionLog(registry.settings.log_url).store
        assert len(store.segments("fraud", 1, logged.start, logged.start + HOUR)) == 1  # the closed hour
        table = PredictionLog(registry.settings.log_url).scan(
            "fraud", 1, logged.start, logged.start + 2 * HOUR
        )
        assert table is not None and table.num_rows == 3000


def test_the_runner_lists_the_finished_hours_it_merged_once(tmp_path: Path) -> None:
    """Each tick merges the hours that ended since the last one, not every hour of the retention period
    again; a runner that starts afresh looks at them all once (it catches what arrived while it was down)."""
    settings = load_settings(tmp_path / "ws")
    first = datetime.now(UTC).replace(minute=30, second=0, microsecond=0) - 10 * HOUR
    old, recent = first - 5 * HOUR, first - HOUR

    def two_segments(at: datetime) -> None:
        write_segments(settings.log_url, (record(1, seed=seed, at=at) for seed in range(2)))

    def live(at: datetime) -> int:
        hour = at.replace(minute=0)
        return len(SegmentStore(settings.log_url).segments("fraud", 1, hour, hour + HOUR))

    two_segments(old)
    runner = MonitorRunner(settings, RunnerConfig([], alerts=False))
    runner.run_once(first)
    assert live(old) == 1
    two_segments(old)  # late rows in an hour merged long ago
    two_segments(recent)  # ended after the first tick's windows began: merged once they move on
    runner.run_once(first + HOUR)
    assert (live(old), live(recent)) == (3, 1)
    MonitorRunner(settings, RunnerConfig([], alerts=False)).run_once(first + HOUR)
    assert live(old) == 1
