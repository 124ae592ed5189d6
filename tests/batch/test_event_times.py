"""``score --log --timestamp-column``: a backfilled history is logged at its own times, so the monitors see it
window by window as it happened; a column that cannot say when rows happened is refused before scoring."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from shipyard import Registry
from shipyard.batch import BatchOptions, score_batch
from shipyard.cli import main
from shipyard.errors import Conflict, InvalidInput
from shipyard.predictions import PredictionLog
from tests.batch.conftest import table

DAYS = [datetime(2026, 10, day, tzinfo=UTC) for day in (1, 2, 3)]


def history(rows_per_day: int = 20) -> pd.DataFrame:
    """Three days of transactions, each row stamped within its day, as ISO 8601 text."""
    parts = []
    for index, day in enumerate(DAYS):
        part = table(rows_per_day, 30 + index)
        stamps = [day + timedelta(minutes=47 * row) for row in range(rows_per_day)]  # spread over the day
        parts.append(part.assign(event_time=[stamp.strftime("%Y-%m-%dT%H:%M:%SZ") for stamp in stamps]))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture
def shell(trained: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SHIPYARD_HOME", str(trained))
    monkeypatch.setenv("COLUMNS", "250")
    return trained


def test_three_days_scored_today_are_monitored_as_three_days(
    shell: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history().to_csv(tmp_path / "history.csv", index=False)
    scored = ["score", "fraud/1", "-i", str(tmp_path / "history.csv"), "-o", str(tmp_path / "out")]
    assert main([*scored, "--log", "--timestamp-column", "event_time", "--chunk-rows", "25"]) == 0
    capsys.readouterr()
    assert (
        main(
            ["monitor", "run", "fraud/1", "--from", "2026-09-30", "--to", "2026-10-05", "-w", "1d", "--json"]
        )
        == 0
    )
    windows = json.loads(capsys.readouterr().out)
    busy = {window["start"][:10]: window["rows"] for window in windows if window["rows"]}
    assert busy == {"2026-10-01": 20, "2026-10-02": 20, "2026-10-03": 20}

    output = pd.concat([pd.read_parquet(part) for part in sorted((tmp_path / "out").glob("part-*.parquet"))])
    log = PredictionLog(f"file://{shell / 'logs'}")
    found = log.find(output["prediction_id"].tolist())  # late labels find every row by its id
    assert len(found) == 60
    expected = pd.to_datetime(output["event_time"], utc=True)
    logged = pd.to_datetime([found[pid]["timestamp"] for pid in output["prediction_id"]], utc=True)
    assert (logged == expected.to_numpy()).all()


def test_a_table_from_python_with_naive_timestamps_is_logged_at_them_as_utc(
    registry: Registry, tmp_path: Path
) -> None:
    frame = history(5).assign(event_time=lambda f: pd.to_datetime(f["event_time"]).dt.tz_localize(None))
    result = score_batch(
        registry,
        "fraud/1",
        frame,
        tmp_path / "out",
        BatchOptions(log_predictions=True, timestamp_column="event_time", key_columns=["id", "event_time"]),
    )
    assert result.scored == 15
    output = pd.concat([pd.read_parquet(part) for part in sorted((tmp_path / "out").glob("part-*.parquet"))])
    found = PredictionLog(registry.settings.log_url).find(output["prediction_id"].tolist())
    logged = pd.to_datetime([found[pid]["timestamp"] for pid in output["prediction_id"]], utc=True)
    assert (logged == output["event_time"].dt.tz_localize("UTC").to_numpy()).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda f: f.drop(columns=["event_time"]),
            "has no column 'event_time' (given as the timestamp column)",
        ),
        (lambda f: f.assign(event_time=range(len(f))), "holds int64 values, not times"),
        (
            lambda f: f.assign(event_time=f["event_time"].where(f.index != 7)),
            "1 empty value(s) (first at row 7)",
        ),
        (
            lambda f: f.assign(event_time=f["event_time"].where(f.index != 9, "yesterday")),
            "first at row 9: 'yesterday'",
        ),
    ],
)
def test_a_column_that_cannot_say_when_rows_happened_is_refused_before_scoring(
    shell: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: object, message: str
) -> None:
    change(history()).to_parquet(tmp_path / "in.parquet")  # type: ignore[operator]
    capsys.readouterr()
    args = ["score", "fraud/1", "-i", str(tmp_path / "in.parquet"), "-o", str(tmp_path / "out")]
    assert main([*args, "--log", "--timestamp-column", "event_time"]) == 2
    error = capsys.readouterr().err
    assert message in error and "scoring" not in error  # no progress bar before the refusal
    assert not (tmp_path / "out").exists()


def test_a_timestamp_column_needs_log() -> None:
    with pytest.raises(InvalidInput, match="needs log_predictions=True"):
        BatchOptions(timestamp_column="event_time")


def test_input_errors_come_without_a_progress_bar(
    shell: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["score", "fraud/1", "-i", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "out")]) == 3
    error = capsys.readouterr().err
    assert "no input file matches" in error and "0/?" not in error and "scoring" not in error


def test_a_run_resumes_only_with_the_timestamp_column_it_started_with(
    registry: Registry, tmp_path: Path
) -> None:
    history(5).to_parquet(tmp_path / "in.parquet")
    inputs, out = [str(tmp_path / "in.parquet")], tmp_path / "out"
    first = score_batch(registry, "fraud/1", inputs, out, BatchOptions(log_predictions=True, run_id="r1"))
    assert first.scored == 15
    with pytest.raises(Conflict, match="timestamp_column None vs 'event_time'"):
        options = BatchOptions(log_predictions=True, timestamp_column="event_time", run_id="r1")
        score_batch(registry, "fraud/1", inputs, out, options)
