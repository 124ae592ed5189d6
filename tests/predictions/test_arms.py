"""Every logged prediction and failure names the arm of a rollout that answered it; segments written before
rollouts existed read as ``stable`` however they are read."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from shipyard.predictions import LogWriter, PredictionLog, SegmentStore, compact
from shipyard.predictions.events import FailedRequest
from tests.predictions.conftest import record


def _write_without_arm(url: str, rows: int = 2) -> list[str]:
    """A segment as servers wrote it before rollouts: the same columns, no ``arm``."""
    old = record(rows, seed=7)
    writer = LogWriter(url, flush_seconds=60)
    writer.submit(old)
    writer.close()
    store = SegmentStore(url)
    for segment in store.segments("fraud", 1):
        table = store.read(segment)
        assert table is not None
        folder, name = segment.path.rsplit("/", 1)
        store.write(folder, name, table.drop_columns(["arm"]))
    return old.prediction_ids


def test_each_row_keeps_the_arm_that_answered_it(tmp_path: Path) -> None:
    url = str(tmp_path / "logs")
    writer = LogWriter(url, flush_seconds=60)
    stable, canary = record(2, seed=1), dataclasses.replace(record(1, seed=2), arm="canary")
    for item in (stable, canary):
        writer.submit(item)
    writer.submit_failure(
        FailedRequest("r", datetime.now(UTC), "fraud", 1, "oip", 422, "rejected", 1, 0.01, arm="canary")
    )
    writer.close()
    log = PredictionLog(url)
    table = log.scan("fraud", 1)
    assert table is not None and table["arm"].to_pylist() == ["stable", "stable", "canary"]
    failures = pa.concat_tables(log.failures("fraud", 1))
    assert failures["arm"].to_pylist() == ["canary"]


def test_segments_written_before_rollouts_read_as_stable(tmp_path: Path) -> None:
    url = str(tmp_path / "logs")
    old_ids = _write_without_arm(url)
    writer = LogWriter(url, flush_seconds=60)
    new = dataclasses.replace(record(1, seed=3), arm="canary")
    writer.submit(new)
    writer.close()
    log = PredictionLog(url)

    scanned = log.scan("fraud", 1, columns=["prediction_id", "arm"])
    assert scanned is not None
    assert dict(zip(*scanned.to_pydict().values(), strict=True)) == {
        **dict.fromkeys(old_ids, "stable"),
        new.prediction_ids[0]: "canary",
    }
    whole = log.scan("fraud", 1)
    assert whole is not None and sorted(whole["arm"].to_pylist()) == ["canary", "stable", "stable"]
    tail = log.tail(5)
    assert tail is not None and sorted(tail["arm"].to_pylist()) == ["canary", "stable", "stable"]
    found = log.find_table([*old_ids, *new.prediction_ids], ["prediction_id", "arm"])
    assert sorted(found["arm"].to_pylist()) == ["canary", "stable", "stable"]
    counted = log.query("SELECT arm, count(*) AS n FROM predictions GROUP BY arm ORDER BY arm")
    assert counted.to_pydict() == {"arm": ["canary", "stable"], "n": [1, 2]}

    compact(log.store)  # old and new segments merged into one file: the old rows still read as stable
    merged = log.scan("fraud", 1)
    assert merged is not None and pc.count(merged["arm"], mode="only_null").as_py() == 0
    assert sorted(merged["arm"].to_pylist()) == ["canary", "stable", "stable"]


def test_sql_over_a_log_of_old_segments_only_has_the_arm_column(tmp_path: Path) -> None:
    url = str(tmp_path / "logs")
    _write_without_arm(url, rows=3)
    log = PredictionLog(url)
    assert log.query("SELECT DISTINCT arm FROM predictions").to_pydict() == {"arm": ["stable"]}
    assert log.query("SELECT count(*) AS n FROM failures WHERE arm = 'stable'").to_pydict() == {"n": [0]}
