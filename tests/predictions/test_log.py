"""The prediction log: written off the request path, read back whole, queried with SQL, kept tidy."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard.errors import InvalidInput, Unavailable
from shipyard.predictions import LogWriter, PredictionLog, SegmentStore, compact, expire, maintenance, prune
from shipyard.predictions import segments as segments_module
from shipyard.predictions.maintenance import compact_finished_apart
from shipyard.predictions.segments import HOUR
from tests.predictions.conftest import failing_halfway, float_record, record, write_segments


def _url(tmp_path: Path) -> str:
    return str(tmp_path / "logs")


def test_every_row_comes_back_with_its_ids_inputs_outputs_and_version(tmp_path: Path) -> None:
    writer = LogWriter(_url(tmp_path), flush_seconds=60)
    records = [record(3, seed=1), record(1, seed=2), record(2, model="churn", version=4, proba=False)]
    records.append(float_record(5))
    for item in records:
        writer.submit(item)
    writer.close()
    log = PredictionLog(_url(tmp_path))
    fraud = log.scan("fraud", 1)
    assert fraud is not None and fraud.num_rows == 4
    assert fraud["prediction_id"].to_pylist() == records[0].prediction_ids + records[1].prediction_ids
    assert fraud["inputs"].combine_chunks().field("amount").to_pylist() == [
        *records[0].inputs["amount"],
        *records[1].inputs["amount"],
    ]
    assert fraud["prediction"].to_pylist() == [*records[0].predictions, *records[1].predictions]
    assert fraud["probabilities"].to_pylist()[0] == pytest.approx(records[0].probabilities[0].tolist())
    assert set(fraud["protocol"].to_pylist()) == {"native"} and fraud["latency_ms"][
        0
    ].as_py() == pytest.approx(2)
    churn = log.scan("churn")
    assert churn is not None and churn["version"].to_pylist() == [4, 4]
    assert churn["probabilities"].null_count == 2
    numeric = log.scan("numeric", 2)
    assert numeric is not None
    assert numeric["inputs"].combine_chunks().field("c").to_pylist() == records[3].inputs["c"].tolist()
    assert numeric["prediction"].to_pylist() == pytest.approx(records[3].predictions.tolist())


def test_records_are_written_within_the_flush_interval_without_closing(tmp_path: Path) -> None:
    writer = LogWriter(_url(tmp_path), flush_seconds=0.1)
    try:
        writer.submit(record(2))
        log = PredictionLog(_url(tmp_path))
        deadline = time.monotonic() + 5
        while log.scan("fraud") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        table = log.scan("fraud")
        assert table is not None and table.num_rows == 2
    finally:
        writer.close()


def _write_then_die(url: str, ready: multiprocessing.Event) -> None:  # type: ignore[valid-type]
    writer = LogWriter(url, flush_seconds=0.1)
    for seed in range(50):
        writer.submit(record(1, seed=seed))
    time.sleep(0.6)  # several flush intervals: all fifty are written by now
    writer.submit(record(1, seed=99))  # inside the last interval: may be lost, nothing else may
    ready.set()  # type: ignore[attr-defined]
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_killed_writer_loses_at_most_its_last_flush_interval(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    child = context.Process(target=_write_then_die, args=(_url(tmp_path), ready))
    child.start()
    child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL
    table = PredictionLog(_url(tmp_path)).scan("fraud")
    assert table is not None and table.num_rows in (50, 51)


def _write_many(url: str, offset: int) -> None:
    writer = LogWriter(url, flush_seconds=0.05)
    for seed in range(offset, offset + 400):
        writer.submit(record(1, seed=seed))
        if seed % 50 == 0:
            time.sleep(0.01)
    writer.close()


def test_several_worker_processes_write_side_by_side_and_lose_nothing(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_write_many, args=(_url(tmp_path), n * 1000)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    table = PredictionLog(_url(tmp_path)).scan("fraud")
    assert table is not None and table.num_rows == 1200
    assert len(set(table["prediction_id"].to_pylist())) == 1200


def test_a_truncated_segment_is_skipped_with_a_warning_and_the_rest_still_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_segments(_url(tmp_path), (record(2, seed=seed) for seed in range(3)))
    log = PredictionLog(_url(tmp_path))
    victim = log.segments("fraud")[1].path
    with open(victim, "r+b") as broken:  # what a kill -9 in the middle of a write to disk leaves
        broken.truncate(os.path.getsize(victim) // 2)
    with caplog.at_level(logging.WARNING, logger="shipyard.predictions"):
        table = PredictionLog(_url(tmp_path)).scan("fraud")
    assert table is not None and table.num_rows == 4
    assert any(victim in message and "skipped" in message for message in caplog.messages)


def test_sampling_keeps_about_the_share_asked_for_and_says_so(tmp_path: Path) -> None:
    writer = LogWriter(_url(tmp_path), flush_seconds=60, sample_rate=0.25)
    for seed in range(2000):
        writer.submit(record(1, seed=seed % 7))
    writer.close()
    table = PredictionLog(_url(tmp_path)).scan("fraud")
    assert table is not None and 400 <= table.num_rows <= 600  # binomial(2000, 0.25): ±5 sd
    assert set(table["sample_rate"].to_pylist()) == {0.25}


def test_compaction_merges_an_hour_into_one_file_and_no_row_counts_twice(tmp_path: Path) -> None:
    write_segments(_url(tmp_path), (record(1, seed=seed) for seed in range(12)))
    store = SegmentStore(_url(tmp_path))
    before = PredictionLog(_url(tmp_path)).scan("fraud")
    assert before is not None and len(store.segments("fraud", 1)) == 12
    removing = store.remove
    store.remove = lambda paths: None  # type: ignore[method-assign]  # compaction stops before deleting
    compact(store)
    assert len(store.fs.ls(store.hour_folder("fraud", 1, store.hours("fraud", 1)[0]))) == 13
    halfway = PredictionLog(_url(tmp_path)).scan("fraud")
    assert halfway is not None and sorted(halfway["prediction_id"].to_pylist()) == sorted(
        before["prediction_id"].to_pylist()
    )
    store.remove = removing  # type: ignore[method-assign]
    result = compact(SegmentStore(_url(tmp_path)))
    assert result.merged_segments == 0  # the compacted file alone is left: its sources are deleted now
    fresh = SegmentStore(_url(tmp_path))
    assert len(fresh.fs.ls(fresh.hour_folder("fraud", 1, fresh.hours("fraud", 1)[0]))) == 1
    segments = fresh.segments("fraud", 1)
    assert len(segments) == 1 and segments[0].rows == 12
    after = PredictionLog(_url(tmp_path)).scan("fraud")
    assert after is not None and sorted(after["prediction_id"].to_pylist()) == sorted(
        before["prediction_id"].to_pylist()
    )


def test_prune_deletes_hours_past_retention_and_keeps_the_rest(tmp_path: Path) -> None:
    writer = LogWriter(_url(tmp_path), flush_seconds=60)
    writer.submit(record(1, at=datetime.now(UTC) - timedelta(days=3)))
    writer.submit(record(2))
    writer.close()
    store = SegmentStore(_url(tmp_path))
    assert prune(store, datetime.now(UTC) - timedelta(days=1)) == 1
    table = PredictionLog(_url(tmp_path)).scan("fraud")
    assert table is not None and table.num_rows == 2
    assert len(store.hours("fraud", 1)) == 1
    with pytest.raises(InvalidInput, match="keeps everything"):
        expire(store, 0)
    assert expire(store, 1)[0] == 0  # the hour left is recent


def test_time_ranges_select_rows_by_their_timestamp(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    writer = LogWriter(_url(tmp_path), flush_seconds=60)
    for hours_ago in (5, 3, 1):
        writer.submit(record(1, at=now - timedelta(hours=hours_ago)))
    writer.close()
    log = PredictionLog(_url(tmp_path))
    window = log.scan("fraud", start=now - timedelta(hours=4), end=now - timedelta(minutes=90))
    assert window is not None and window.num_rows == 1
    assert log.scan("fraud", start=now) is None


def test_find_returns_the_logged_prediction_of_known_ids_only(tmp_path: Path) -> None:
    writer = LogWriter(_url(tmp_path), flush_seconds=60)
    first, second = record(2, seed=1), record(1, model="churn", version=3, seed=2)
    writer.submit(first)
    writer.submit(second)
    writer.close()
    found = PredictionLog(_url(tmp_path)).find(
        [first.prediction_ids[1], second.prediction_ids[0], "0" * 32 + "-0", "not-an-id"]
    )
    assert set(found) == {first.prediction_ids[1], second.prediction_ids[0]}
    assert (
        found[second.prediction_ids[0]]["model"] == "churn"
        and found[second.prediction_ids[0]]["version"] == 3
    )
    assert found[first.prediction_ids[1]]["prediction"] == first.predictions[1]


def test_find_table_gives_each_known_id_once_from_one_pass(tmp_path: Path) -> None:
    writer = LogWriter(_url(tmp_path), flush_seconds=60)
    first, second = record(3, seed=1), record(2, model="churn", version=3, seed=2)
    for item in (first, second, first):  # the first request logged twice (two segments)
        writer.submit(item)
        writer.flush()
    writer.close()
    log = PredictionLog(_url(tmp_path))
    seen: list[tuple[int, int]] = []
    asked = [*first.prediction_ids, second.prediction_ids[1], "0" * 32 + "-0", "not-an-id", ""]
    table = log.find_table(asked, progress=lambda done, total: seen.append((done, total)))
    assert sorted(table["prediction_id"].to_pylist()) == sorted(
        [*first.prediction_ids, second.prediction_ids[1]]
    )
    assert table.column_names == ["prediction_id", "model", "version", "timestamp"]
    assert seen[0] == (0, 8) and seen[-1] == (8, 8)  # rows of the three segments read
    assert log.find_table(["not-an-id"]).num_rows == 0


def test_sql_over_the_log_reaches_inputs_by_name(tmp_path: Path) -> None:
    writer = LogWriter(_url(tmp_path), flush_seconds=60)
    writer.submit(record(3, seed=1))
    writer.submit(record(2, model="churn", version=2, proba=False))
    writer.close()
    log = PredictionLog(_url(tmp_path))
    counts = log.query("SELECT model, version, count(*) AS n FROM predictions GROUP BY ALL ORDER BY model")
    assert counts.to_pylist() == [
        {"model": "churn", "version": 2, "n": 2},
        {"model": "fraud", "version": 1, "n": 3},
    ]
    amounts = log.query("SELECT inputs.amount AS amount FROM predictions WHERE model = 'fraud'")
    assert np.isfinite(amounts["amount"].to_numpy()).all()
    labels = pa.table({"prediction_id": ["x"], "label": ["1"]})
    joined = log.query(
        "SELECT count(*) AS n FROM predictions JOIN feedback USING (prediction_id)", feedback=labels
    )
    assert joined["n"][0].as_py() == 0


def test_sql_over_an_empty_log_finds_no_rows_and_bad_sql_names_the_problem(tmp_path: Path) -> None:
    log = PredictionLog(_url(tmp_path))
    assert log.query("SELECT count(*) AS n FROM predictions")["n"][0].as_py() == 0
    with pytest.raises(InvalidInput, match="the query failed"):
        log.query("SELEC nonsense")


def test_tail_gives_the_newest_rows_oldest_first(tmp_path: Path) -> None:
    writer = LogWriter(_url(tmp_path), flush_seconds=60)
    records = [record(1, seed=seed) for seed in range(6)]
    for item in records:
        writer.submit(item)
        writer.flush()
    writer.close()
    newest = PredictionLog(_url(tmp_path)).tail(3)
    assert newest is not None
    assert newest["prediction_id"].to_pylist() == [item.prediction_ids[0] for item in records[-3:]]
    with pytest.raises(InvalidInput):
        PredictionLog(_url(tmp_path)).tail(0)


def test_an_hour_still_being_written_is_compacted_in_pieces_then_whole(tmp_path: Path) -> None:
    writer = LogWriter(_url(tmp_path), flush_seconds=60)
    for seed in range(4):
        writer.submit(record(1, seed=seed))
        writer.flush()
    store = SegmentStore(_url(tmp_path))
    now = datetime.now(UTC)
    assert compact(store, now=now).merged_segments == 4  # the new writer segments become one piece
    for seed in range(4, 7):
        writer.submit(record(1, seed=seed))
        writer.flush()
    writer.close()
    assert compact(SegmentStore(_url(tmp_path)), now=now).merged_segments == 3  # the earlier piece stays
    pieces = SegmentStore(_url(tmp_path)).segments("fraud", 1)
    assert len(pieces) == 2 and sorted(piece.rows for piece in pieces) == [3, 4]
    later = now + timedelta(hours=2)
    assert compact(SegmentStore(_url(tmp_path)), now=later).merged_segments == 2  # the hour is over: one file
    table = PredictionLog(_url(tmp_path)).scan("fraud")
    assert table is not None and table.num_rows == 7


def test_compaction_merges_only_the_segments_it_is_allowed_to(tmp_path: Path) -> None:
    """The monitoring runner merges only what its monitors have counted: the rest waits for the next pass."""
    write_segments(_url(tmp_path), (record(1, seed=seed) for seed in range(3)))
    store = SegmentStore(_url(tmp_path))
    newest = max(segment.name for segment in store.segments("fraud", 1))
    done = compact(store, now=datetime.now(UTC), mergeable=lambda segment: segment.name != newest)
    assert done.merged_segments == 2
    names = sorted(segment.name for segment in store.segments("fraud", 1))
    assert newest in names and len(names) == 2


def test_reading_a_large_segment_holds_one_row_group_at_a_time(tmp_path: Path) -> None:
    writer = LogWriter(_url(tmp_path), flush_seconds=60)
    writer.submit(record(150_000, seed=1, proba=False))
    writer.flush()
    writer.submit(record(100_000, seed=2, proba=False))
    writer.close()
    compact(SegmentStore(_url(tmp_path)))  # one file of 250,000 rows
    sizes = [table.num_rows for table in PredictionLog(_url(tmp_path)).batches("fraud")]
    assert sum(sizes) == 250_000 and max(sizes) <= 100_000 and len(sizes) == 3


def test_compaction_streams_an_hour_in_whole_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An hour of millions of rows is merged a row group at a time: groups are written while segments are
    still being read, and each is the full size whatever the sizes of the segments."""
    monkeypatch.setattr(segments_module, "ROW_GROUP_ROWS", 1_000)
    write_segments(_url(tmp_path), (record(300, seed=seed, proba=False) for seed in range(25)))
    before = PredictionLog(_url(tmp_path)).scan("fraud")
    events: list[str] = []
    store = SegmentStore(_url(tmp_path))
    reading = store.row_groups

    def read(*args: Any, **kwargs: Any) -> Iterator[pa.Table]:
        for group in reading(*args, **kwargs):
            events.append("read")
            yield group

    writing = pq.ParquetWriter.write_table

    def write(self: pq.ParquetWriter, table: pa.Table, *args: Any, **kwargs: Any) -> None:
        events.append("write")
        writing(self, table, *args, **kwargs)

    store.row_groups = read  # type: ignore[method-assign]
    monkeypatch.setattr(pq.ParquetWriter, "write_table", write)
    assert compact(store).rows == 7_500
    assert events.count("read") == 25 and events.index("write") < 5  # not every segment read first
    (merged,) = SegmentStore(_url(tmp_path)).segments("fraud", 1)
    parquet = pq.ParquetFile(merged.path)
    sizes = [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)]
    assert sizes == [1_000] * 7 + [500]
    after = PredictionLog(_url(tmp_path)).scan("fraud")
    assert before is not None and after is not None and after.equals(before)


def test_a_compaction_whose_sources_fail_halfway_leaves_the_hour_as_it_was(tmp_path: Path) -> None:
    """The object store going down mid-merge: no compacted segment (which would name its sources as
    replaced), no temporary file, every row still read from the sources."""
    store = failing_halfway(_url(tmp_path))
    before = PredictionLog(_url(tmp_path)).scan("fraud")
    with pytest.raises(Unavailable):
        compact(store)
    folder = Path(store.hour_folder("fraud", 1, store.hours("fraud", 1)[0]))
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        s.name for s in store.segments("fraud", 1)
    )
    after = PredictionLog(_url(tmp_path)).scan("fraud")
    assert len(store.segments("fraud", 1)) == 6 and after is not None and after.equals(before)


def test_finished_hours_are_merged_in_a_process_of_their_own_and_only_those(tmp_path: Path) -> None:
    """The monitoring runner merges a finished hour apart (its decoders' memory goes when the process
    ends); the hour still being written, and the segments not chosen, stay as they are."""
    now = datetime.now(UTC)
    times = [now - timedelta(hours=3)] * 4 + [now] * 2
    write_segments(_url(tmp_path), (record(1, seed=seed, at=at) for seed, at in enumerate(times)))
    before = PredictionLog(_url(tmp_path)).scan("fraud")
    store = SegmentStore(_url(tmp_path))
    finished, current = store.hours("fraud", 1)
    newest = max(segment.name for segment in store.segments("fraud", 1, finished, finished + HOUR))
    result = compact_finished_apart(store, now, lambda segment: segment.name != newest)
    assert result is not None and (result.folders, result.merged_segments, result.rows) == (1, 3, 3)
    fresh = SegmentStore(_url(tmp_path))
    assert sorted(s.rows for s in fresh.segments("fraud", 1, finished, finished + HOUR)) == [1, 3]
    assert len(fresh.segments("fraud", 1, current, current + HOUR)) == 2  # still being written: left alone
    assert compact_finished_apart(fresh, now, lambda segment: segment.name != newest) is None  # no process
    after = PredictionLog(_url(tmp_path)).scan("fraud")
    assert before is not None and after is not None
    assert sorted(after["prediction_id"].to_pylist()) == sorted(before["prediction_id"].to_pylist())


def _merge_finished_hours_in_a_daemon(url: str, now: datetime, results: Any) -> None:
    try:
        results.put(compact_finished_apart(SegmentStore(url), now))
    except Exception as error:  # the test shows what went wrong
        results.put(repr(error))


def test_a_daemon_process_merges_finished_hours_apart(tmp_path: Path) -> None:
    """The monitoring runner lives in a daemon process, which multiprocessing allows no children of its
    own: the merging process is a plain child, so the merge still happens there."""
    now = datetime.now(UTC)
    write_segments(_url(tmp_path), (record(1, seed=seed, at=now - 3 * HOUR) for seed in range(3)))
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    daemon = context.Process(
        target=_merge_finished_hours_in_a_daemon, args=(_url(tmp_path), now, results), daemon=True
    )
    daemon.start()
    result = results.get(timeout=120)
    daemon.join(30)
    assert not isinstance(result, str), result
    assert result is not None and (result.folders, result.merged_segments, result.rows) == (1, 3, 3)
    assert [segment.rows for segment in SegmentStore(_url(tmp_path)).segments("fraud", 1)] == [3]


def test_a_merging_process_that_fails_is_an_error_and_leaves_the_hour_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    write_segments(_url(tmp_path), (record(1, seed=seed, at=now - 3 * HOUR) for seed in range(2)))
    monkeypatch.setattr(maintenance.sys, "executable", "false")  # a child that exits at once, failing
    with pytest.raises(Unavailable, match="merging the finished hours of the predictions log failed"):
        compact_finished_apart(SegmentStore(_url(tmp_path)), now)
    assert len(SegmentStore(_url(tmp_path)).segments("fraud", 1)) == 2


def test_a_store_reads_each_footer_once_and_remembers_only_the_files_that_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store kept for days (the monitoring runner's) reads a segment's footer once, and forgets the
    footers of the segments compaction replaced: what it holds is bounded by the files, not by time."""
    write_segments(_url(tmp_path), (record(1, seed=seed) for seed in range(5)))
    store = SegmentStore(_url(tmp_path))
    reads: list[str] = []
    read_footer = SegmentStore._read_footer

    def counted(self: SegmentStore, entry: dict[str, Any], keep_small: bool) -> Any:
        reads.append(entry["name"])
        return read_footer(self, entry, keep_small)

    monkeypatch.setattr(SegmentStore, "_read_footer", counted)
    assert len(store.segments("fraud", 1)) == 5 and len(reads) == 5
    assert len(store.segments("fraud", 1)) == 5 and len(reads) == 5  # listed again: nothing read again
    compact(store)
    assert [segment.rows for segment in store.segments("fraud", 1)] == [5] and len(reads) == 6
    assert sum(map(len, store._footers.values())) == 1  # the five merged ones are forgotten
    prune(store, datetime.now(UTC) + 2 * HOUR)
    assert store._footers == {}


def test_finished_hours_before_since_are_not_looked_at(tmp_path: Path) -> None:
    """A caller that compacts every minute names the hours it already merged (``since``): they are not
    listed again, so a log of many days costs a tick the listing of its newest hours only."""
    now = datetime.now(UTC)
    times = [now - timedelta(hours=5)] * 2 + [now - timedelta(hours=2)] * 2
    write_segments(_url(tmp_path), (record(1, seed=seed, at=at) for seed, at in enumerate(times)))
    store = SegmentStore(_url(tmp_path))
    older, newer = store.hours("fraud", 1)
    result = compact_finished_apart(store, now, since=newer)
    assert result is not None and (result.folders, result.merged_segments) == (1, 2)
    assert len(store.segments("fraud", 1, older, older + HOUR)) == 2  # before ``since``: left as it was
    assert len(store.segments("fraud", 1, newer, newer + HOUR)) == 1
