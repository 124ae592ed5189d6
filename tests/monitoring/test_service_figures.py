"""Refused and failed requests, and the serving processes' CPU and memory, in a monitoring window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shipyard import Registry
from shipyard.ids import new_request_id
from shipyard.monitoring.windows import monitor_window
from shipyard.predictions import LogWriter, PredictionLog, compact
from shipyard.predictions.events import FailedRequest, UsageSample
from shipyard.registry import ModelVersion
from tests.predictions.conftest import record

HOUR = timedelta(hours=1)
START = datetime(2026, 3, 2, 10, tzinfo=UTC)


def failure(
    status: int, error: str, rows: int, problems: tuple[tuple[int, str, str], ...] = (), minute: int = 5
) -> FailedRequest:
    at = START + timedelta(minutes=minute)
    return FailedRequest(new_request_id(at), at, "fraud", 1, "native", status, error, rows, 0.003, problems)


def test_a_window_of_only_refused_requests_has_data_and_blames_the_features(
    trained: tuple[Path, ModelVersion], tmp_path: Path
) -> None:
    home, version = trained
    writer = LogWriter(str(tmp_path / "log"), flush_seconds=60)
    # Two rows with a bad amount, one with a bad hour too; then a request missing the channel column.
    writer.submit_failure(
        failure(422, "rejected", 4, ((0, "amount", "type"), (2, "amount", "type"), (2, "hour", "range")))
    )
    writer.submit_failure(failure(422, "rejected", 3, ((-1, "channel", "missing_column"),)))
    writer.submit_failure(failure(400, "invalid", 0))
    writer.close()
    with Registry(home=home) as registry:
        window = monitor_window(registry, PredictionLog(str(tmp_path / "log")), version, START, START + HOUR)

    assert not window.no_data and window.rows == 0 and window.drift is None
    assert window.failed_requests == 3 and window.failures == {"invalid": 1.0, "rejected": 2.0}
    assert window.health["rejected_rate"] == 1.0 and window.health["error_rate"] == 0.0
    amount, channel, hour = window.quality["amount"], window.quality["channel"], window.quality["hour"]
    assert (amount.rejected_rows, hour.rejected_rows, channel.rejected_rows) == (2, 1, 3)  # whole column: all
    assert amount.rejected_share == pytest.approx(2 / 7) and amount.missing_rate is None


def test_errors_count_against_every_request_and_sampled_counts_are_scaled_up(
    trained: tuple[Path, ModelVersion], tmp_path: Path
) -> None:
    home, version = trained
    writer = LogWriter(str(tmp_path / "log"), flush_seconds=60)
    for _ in range(6):
        writer.submit(record(2, at=START + timedelta(minutes=1)))
    writer.submit_failure(failure(503, "overloaded", 1))
    writer.submit_failure(failure(504, "timeout", 1))
    writer.submit_failure(failure(422, "rejected", 2, ((1, "amount", "type"),)))
    writer.close()
    with Registry(home=home) as registry:
        log = PredictionLog(str(tmp_path / "log"))
        window = monitor_window(registry, log, version, START, START + HOUR)

    assert window.rows == 12 and window.failed_requests == 3
    assert window.health["error_rate"] == pytest.approx(2 / 9)
    assert window.health["rejected_rate"] == pytest.approx(1 / 9)
    assert window.quality["amount"].rejected_share == pytest.approx(1 / (12 + 4))
    assert window.quality["amount"].missing_rate == 0.0  # the answered rows are profiled as before

    sampled_log = tmp_path / "sampled"
    sampled = LogWriter(str(sampled_log), flush_seconds=60, sample_rate=0.5)
    sampled._random.seed(7)
    for _ in range(400):
        sampled.submit_failure(failure(500, "model_error", 1))
    sampled.close()
    with Registry(home=home) as registry:
        window = monitor_window(registry, PredictionLog(str(sampled_log)), version, START, START + HOUR)
    assert window.failed_requests == pytest.approx(400, rel=0.2) and window.health["error_rate"] == 1.0


def test_cpu_and_memory_of_the_serving_processes_come_from_their_samples(
    trained: tuple[Path, ModelVersion], tmp_path: Path
) -> None:
    home, version = trained
    writer = LogWriter(str(tmp_path / "log"), flush_seconds=60)
    served = (("fraud", 1), ("other", 4))
    for second, cpu, rss in ((0, 10.0, 100), (10, 12.0, 300), (20, 15.0, 200)):  # 5 s of CPU in 20 s
        writer.submit_usage(UsageSample(START + timedelta(seconds=second), "a:1:0", cpu, rss, served))
    for second, cpu in ((5, 1.0), (25, 3.0)):  # 2 s in 20 s
        writer.submit_usage(UsageSample(START + timedelta(seconds=second), "b:2:0", cpu, 1000, served))
    writer.submit_usage(UsageSample(START + timedelta(minutes=1), "c:3:0", 50.0, 500, (("fraud", 1),)))
    writer.close()
    with Registry(home=home) as registry:
        log = PredictionLog(str(tmp_path / "log"))
        window = monitor_window(registry, log, version, START, START + HOUR)
        quiet = monitor_window(registry, log, version, START + HOUR, START + 2 * HOUR)

    health = window.health
    assert health["cpu_percent"] == pytest.approx(25 + 10)  # c has one sample: no CPU figure of its own
    assert health["memory_bytes"] == pytest.approx(200 + 1000 + 500)
    assert health["memory_peak_bytes"] == 300 + 1000 + 500 and health["processes"] == 3
    assert quiet.health["cpu_percent"] is None and quiet.health["processes"] == 0
    # A row per sample and version served: fraud/1 has 6, other/4 has 5.
    counts = log.query("SELECT model, count(*) AS n FROM usage GROUP BY model ORDER BY model").to_pylist()
    assert counts == [{"model": "fraud", "n": 6}, {"model": "other", "n": 5}]


def test_failures_are_queried_with_sql_and_compacted_like_predictions(tmp_path: Path) -> None:
    url = str(tmp_path / "log")
    log = PredictionLog(url)
    assert log.query("SELECT count(*) AS n FROM failures").to_pylist() == [{"n": 0}]
    for _ in range(3):
        writer = LogWriter(url, flush_seconds=60)
        writer.submit_failure(failure(422, "rejected", 1, ((0, "amount", "type"),)))
        writer.close()
    assert len(log.segments(store=log.failure_store)) == 3
    assert compact(log.failure_store).merged_segments == 3
    assert len(log.segments(store=log.failure_store)) == 1
    rows = log.query(
        "SELECT status, error, problems[1].column AS blamed FROM failures ORDER BY timestamp"
    ).to_pylist()
    assert rows == [{"status": 422, "error": "rejected", "blamed": "amount"}] * 3
