"""Monitoring costs what the log holds: a year of hourly windows reads only the hours that hold something,
records the rest as "no data" exactly as a read would have found them, and a range of too many windows is
refused with a window that fits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shipyard import Registry
from shipyard.cli import main
from shipyard.config import CONFIG_FILE
from shipyard.errors import InvalidInput
from shipyard.ids import new_request_id
from shipyard.monitoring import windows as windows_module
from shipyard.monitoring.report import build_drift_report
from shipyard.monitoring.series import check_window_count, run_monitors, stored_windows
from shipyard.monitoring.windows import Sources, empty_window, monitor_window
from shipyard.predictions import LogWriter, PredictionLog
from shipyard.predictions.events import FailedRequest, UsageSample
from shipyard.registry import ModelVersion
from tests.models import transactions
from tests.monitoring.conftest import served_copy
from tests.serving.conftest import FEATURES

HOUR = timedelta(hours=1)
YEAR_END = datetime(2026, 7, 1, tzinfo=UTC)
YEAR_START = YEAR_END - timedelta(days=365)
#: Hours holding predictions, a refused request only, and a usage sample only.
SERVED = (datetime(2025, 9, 3, 14, tzinfo=UTC), datetime(2026, 2, 11, 7, tzinfo=UTC))
REFUSED = datetime(2025, 12, 24, 23, tzinfo=UTC)
SAMPLED = datetime(2026, 4, 30, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def quiet_year(trained: tuple[Path, ModelVersion], tmp_path_factory: pytest.TempPathFactory) -> Path:
    requests = [
        (hour + timedelta(minutes=9), transactions(rows=150, seed=number)[FEATURES])
        for number, hour in enumerate(SERVED)
    ]
    home = served_copy(trained, tmp_path_factory, "year", requests)
    with Registry(home=home) as registry:
        writer = LogWriter(registry.settings.log_url, flush_seconds=60)
        at = REFUSED + timedelta(minutes=30)
        writer.submit_failure(
            FailedRequest(new_request_id(at), at, "fraud", 1, "native", 422, "rejected", 2, 0.01)
        )
        writer.submit_usage(
            UsageSample(SAMPLED + timedelta(minutes=1), "worker-1", 1.0, 50_000_000, (("fraud", 1),))
        )
        writer.close()
    return home


def test_a_year_reads_only_the_hours_holding_something(
    quiet_year: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[datetime] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        read.append(args[3])
        return monitor_window(*args, **kwargs)

    # series imports monitor_window from windows when it computes (a supervisor parses windows without it)
    monkeypatch.setattr(windows_module, "monitor_window", counted)
    with Registry(home=quiet_year) as registry:
        version = registry.resolve("fraud/1")
        log = PredictionLog(registry.settings.log_url)
        results = run_monitors(registry, log, [version], YEAR_START, YEAR_END, HOUR)
        stored = stored_windows(registry, "fraud", HOUR)
        # What the skipped windows were recorded as is what reading them would have found.
        quiet = results[5]
        read_anyway = monitor_window(registry, log, version, quiet.start, quiet.end, minimums=quiet.minimums)

    assert sorted(read) == sorted([*SERVED, REFUSED, SAMPLED])
    assert len(results) == len(stored) == 365 * 24
    busy = {result.start: result for result in results if not result.no_data}
    assert sorted(busy) == sorted([*SERVED, REFUSED])
    assert busy[SERVED[0]].rows == 150 and busy[REFUSED].failures == {"rejected": 1.0}
    sampled = next(result for result in results if result.start == SAMPLED)
    assert sampled.no_data and sampled.health["memory_bytes"] == 50_000_000
    assert quiet.no_data and quiet.to_dict() == read_anyway.to_dict()
    assert empty_window(version, quiet.start, quiet.end).to_dict() == read_anyway.to_dict()


def test_the_report_of_a_quiet_year_lists_its_quiet_stretches_as_runs(quiet_year: Path) -> None:
    with Registry(home=quiet_year) as registry:
        log = PredictionLog(registry.settings.log_url)
        report = build_drift_report(registry, log, "fraud/1", YEAR_START, YEAR_END, HOUR).to_dict()
    verdicts = report["verdicts"]
    assert verdicts["windows"] == 365 * 24 and verdicts["windows_with_data"] == 3
    assert [window["start"] for window in report["windows"]] == [
        hour.isoformat() for hour in sorted([*SERVED, REFUSED])
    ]
    runs = verdicts["no_data"]
    assert [run["start"] for run in runs][:2] == [YEAR_START.isoformat(), (SERVED[0] + HOUR).isoformat()]
    assert sum(run["windows"] for run in runs) == 365 * 24 - 3
    assert len(json.dumps(report, default=str)) < 200_000


def test_monitor_run_prints_a_quiet_stretch_as_one_row(
    quiet_year: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHIPYARD_HOME", str(quiet_year))
    monkeypatch.setenv("COLUMNS", "250")
    since, until = SERVED[0] - 10 * HOUR, SERVED[0] + 10 * HOUR
    assert main(["monitor", "run", "fraud/1", "--from", since.isoformat(), "--to", until.isoformat()]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("2025-09-03")]
    assert [line.split("  ")[0] for line in lines] == [
        "2025-09-03 04:00 to 2025-09-03 13:00 (10 windows)",
        "2025-09-03 14:00",
        "2025-09-03 15:00 to 2025-09-03 23:00 (9 windows)",
    ]


def test_a_range_of_too_many_windows_is_refused_with_a_window_that_fits(
    quiet_year: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    start = datetime(2000, 1, 1, tzinfo=UTC)
    assert check_window_count(YEAR_START, YEAR_END, HOUR, 10_000) == 8760
    with pytest.raises(InvalidInput, match=r"holds 232,\d{3} windows of 1h, more than the 10,000") as refused:
        check_window_count(start, YEAR_END, HOUR, 10_000)
    assert "use --window 1d or a shorter range" in str(refused.value)
    with pytest.raises(InvalidInput, match="use a shorter range"):
        check_window_count(start, YEAR_END, timedelta(minutes=1), 10)

    monkeypatch.setenv("SHIPYARD_HOME", str(quiet_year))
    for command in (["monitor", "run", "fraud"], ["report", "drift", "fraud/1", "-o", "r.json"]):
        assert main([*command, "--from", "2000-01-01"]) == 2
        assert "use --window 1d or a shorter range" in capsys.readouterr().err
    (quiet_year / CONFIG_FILE).write_text("[monitoring.models.fraud]\nmax_windows = 100\n", encoding="utf-8")
    try:
        assert main(["monitor", "run", "fraud", "--from", "2026-06-01", "--to", "2026-06-08"]) == 2
        assert (
            "168 windows of 1h, more than the 100 one run computes: use --window 6h"
            in capsys.readouterr().err
        )
        assert (
            main(["monitor", "run", "fraud", "--from", "2026-06-01", "--to", "2026-06-08", "-w", "6h"]) == 0
        )
    finally:
        (quiet_year / CONFIG_FILE).unlink()


def test_a_window_read_from_the_ranges_plan_finds_what_a_window_read_alone_finds(quiet_year: Path) -> None:
    """A range's plan names the hours holding predictions, and the window then reads its small segments
    whole, once each; what it counts is what a window listing and reading its folders on its own counts."""
    with Registry(home=quiet_year) as registry:
        version = registry.resolve("fraud/1")
        log = PredictionLog(registry.settings.log_url)
        hour = SERVED[0]
        kept = log.segments_in_hours("fraud", 1, (hour,))
        alone = monitor_window(registry, log, version, hour, hour + HOUR)
        planned = monitor_window(registry, log, version, hour, hour + HOUR, sources=Sources(hours=(hour,)))
    assert kept and all(segment.parsed is not None for segment in kept)
    assert planned.rows == alone.rows == 150
    assert planned.to_dict() == alone.to_dict()
