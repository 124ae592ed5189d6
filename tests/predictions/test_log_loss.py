"""A log that cannot be written loses rows, and says how many where shipyard's alert rules can read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from shipyard.monitoring.service import usage_figures
from shipyard.predictions import LogWriter, PredictionLog
from shipyard.predictions.events import UsageSample
from tests.predictions.conftest import record


def _usage(at: datetime) -> UsageSample:
    return UsageSample(at=at, process="host:1:0", cpu_seconds=1.0, rss_bytes=1 << 20, served=(("fraud", 1),))


def test_rows_the_log_could_not_write_become_a_health_figure_once_it_can_write_again(tmp_path: Path) -> None:
    root = tmp_path / "log"
    (root / "predictions").mkdir(parents=True)
    blocker = root / "predictions" / "fraud"
    blocker.write_text("a file where the model's folder goes: every prediction segment fails to write")
    writer = LogWriter(str(root), flush_seconds=3600)
    start = datetime.now(UTC) - timedelta(minutes=1)
    try:
        writer.submit(record(rows=7))
        writer.submit(record(rows=5, seed=1))
        writer.flush()
        assert writer.dropped["predictions"] == 12
        writer.submit_usage(_usage(datetime.now(UTC)))
        writer.flush()  # the usage stream still writes: it carries the loss so far
        blocker.unlink()
        writer.submit(record(rows=3, seed=2))
        writer.submit_usage(_usage(datetime.now(UTC)))
        writer.flush()
    finally:
        writer.close()
    log = PredictionLog(str(root))
    end = datetime.now(UTC) + timedelta(minutes=1)
    figures = usage_figures(log, "fraud", 1, start, end)
    assert figures["log_dropped_rows"] == 12.0  # reported once, not again with the next sample
    assert log.scan("fraud").num_rows == 3  # what could be written afterwards is there


def test_a_window_without_usage_samples_reports_no_loss(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    figures = usage_figures(PredictionLog(str(tmp_path / "log")), "fraud", 1, now - timedelta(hours=1), now)
    assert figures["log_dropped_rows"] == 0.0
