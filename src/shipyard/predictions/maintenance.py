"""Keeping the prediction log small and fast to read: compaction and retention.

Writers add one small segment per flush (a second's worth by default), so an hour of a busy server is
thousands of files. ``compact`` merges each hour folder's segments into one compacted segment that names
the files it replaces, then deletes them; since every segment is immutable and complete once visible, this
is safe at any time, also for the hour still being written. ``prune`` deletes whole hours older than the
retention period. The server's runner does both periodically (one runner per log: two compacting the same
folder at once could each replace the same segments).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from shipyard.errors import InvalidInput, Unavailable
from shipyard.predictions.segments import (
    COMPACTED_PREFIX,
    HOUR,
    REPLACES_KEY,
    SUFFIX,
    TEMPORARY_SUFFIX,
    Segment,
    SegmentStore,
    hour_of,
    list_entries,
)

log = logging.getLogger("shipyard.predictions")

#: An hour counts as still being written until this long after it ends (writers flush every few seconds).
OPEN_HOUR_GRACE = timedelta(minutes=1)
#: A temporary file older than this was left by a writer that died mid-write.
STALE_TEMPORARY_SECONDS = 3600.0


@dataclass(frozen=True)
class CompactionResult:
    folders: int
    merged_segments: int
    rows: int


def compact(
    store: SegmentStore,
    *,
    min_segments: int = 2,
    now: datetime | None = None,
    mergeable: Callable[[Segment], bool] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> CompactionResult:
    """Merge every hour folder holding at least ``min_segments`` segments into one compacted segment.

    With ``now``, an hour still being written (it ends after ``now`` less a minute) only has its new
    writer segments merged into one more compacted piece, so each call rewrites what arrived since the last
    one, not the whole hour; the hour becomes one file once it is over. With ``mergeable``, only the
    segments it accepts are merged (the monitoring runner merges what its monitors have counted); with
    ``start`` or ``end``, only the hours overlapping ``[start, end)`` are listed and looked at.
    """
    folders = merged = rows = 0
    for model in store.models():
        for version in store.versions(model):
            for hour in store.hours(model, version, start, end):
                segments, leftovers = store.hour_contents(model, version, hour)
                store.remove(leftovers)  # replaced by a compaction that stopped before deleting them
                _remove_stale_temporaries(store, store.hour_folder(model, version, hour))
                if now is not None and hour >= finished_before(now):  # still being written
                    segments = [s for s in segments if not s.name.startswith(COMPACTED_PREFIX)]
                if mergeable is not None:
                    segments = [s for s in segments if mergeable(s)]
                if len(segments) < min_segments:
                    continue
                written = _merge(store, store.hour_folder(model, version, hour), segments)
                if written is None:
                    continue
                folders += 1
                merged += len(segments)
                rows += written
    return CompactionResult(folders, merged, rows)


def finished_before(now: datetime) -> datetime:
    """The hour being written at ``now`` less ``OPEN_HOUR_GRACE``: every hour before it is over (it ended at
    least that long ago), and it and every later one is still being written."""
    return hour_of(now - OPEN_HOUR_GRACE)


def compact_open(
    store: SegmentStore, now: datetime, mergeable: Callable[[Segment], bool] | None = None
) -> CompactionResult:
    """``compact`` of the hours still being written at ``now``, and only those (their days alone are
    listed): each of them gets the writer segments that arrived since the last call merged."""
    return compact(store, now=now, mergeable=mergeable, start=finished_before(now), end=now + HOUR)


def compact_finished_apart(
    store: SegmentStore,
    now: datetime,
    mergeable: Callable[[Segment], bool] | None = None,
    since: datetime | None = None,
) -> CompactionResult | None:
    """``compact`` of the hours over at ``now`` (those ending after ``since``, when given), in a short-lived
    process of its own; None when no such hour has two segments to merge (no process is started).

    Merging a finished hour streams it a row group at a time, yet Parquet's decoders and encoders and the
    allocators' per-thread heaps take 130 to 210 MiB more while it runs (2,000,000 rows of 20 features),
    whatever the size of the groups, and a long-lived process keeps much of that. A process that exits
    gives all of it back, so the monitoring runner's own memory stays flat across the hour. The segments
    are chosen here (``mergeable``, which need not cross processes) and named to it. ``since`` spares a
    caller that calls every minute listing and reading every hour of the retention period each time."""
    end = finished_before(now)
    names = frozenset(
        segment.name
        for model in store.models()
        for version in store.versions(model)
        for hour in store.hours(model, version, since, end)
        for segment in _mergeable(store.hour_contents(model, version, hour)[0], mergeable)
    )
    if not names:
        return None
    return _merge_apart(store, now, names, since, end)


def _mergeable(segments: list[Segment], mergeable: Callable[[Segment], bool] | None) -> list[Segment]:
    """The segments of one hour a compaction would merge: at least two."""
    chosen = segments if mergeable is None else [segment for segment in segments if mergeable(segment)]
    return chosen if len(chosen) >= 2 else []


def _merge_apart(
    store: SegmentStore, now: datetime, names: frozenset[str], start: datetime | None, end: datetime
) -> CompactionResult:
    """``compact`` of the segments named ``names`` in the finished hours overlapping ``[start, end)``, run by
    ``python -m shipyard.predictions.merge_apart`` (a plain child: the runner's process is a daemon)."""
    request = {
        "url": store.url,
        "stream": store.stream,
        "now": now.isoformat(),
        "names": sorted(names),
        "start": None if start is None else start.isoformat(),
        "end": end.isoformat(),
    }
    done = subprocess.run(
        [sys.executable, "-m", "shipyard.predictions.merge_apart"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
    )
    said = done.stderr.strip()
    if done.returncode != 0:
        reason = said.splitlines()[-1] if said else f"it exited with status {done.returncode}"
        raise Unavailable(f"merging the finished hours of the {store.stream} log failed ({reason}); retrying")
    if said:  # segments it skipped as unreadable, named in its warnings
        log.warning("merging the finished hours of the %s log: %s", store.stream, said)
    return CompactionResult(**json.loads(done.stdout))


def _merge(store: SegmentStore, folder: str, segments: list[Segment]) -> int | None:
    """Replace ``segments`` with one compacted segment in ``folder``, streamed a row group at a time; the
    rows it holds, or None when none of the segments can be read any more."""
    schema = _merged_schema(store, segments)
    if schema is None:
        return None
    # Sources of an older compaction that are not deleted yet stay replaced.
    replaced = {segment.name for segment in segments}.union(*(segment.replaces for segment in segments))
    first = min(segment.name.removeprefix(COMPACTED_PREFIX).split("-", 1)[0] for segment in segments)
    name = f"{COMPACTED_PREFIX}{first}-{uuid.uuid4().hex[:8]}{SUFFIX}"
    counter = _Rows()
    metadata = {REPLACES_KEY: json.dumps(sorted(replaced)).encode()}
    store.write_tables(folder, name, schema, counter.count(_conformed(store, segments, schema)), metadata)
    store.remove([segment.path for segment in segments])
    return counter.rows


def _merged_schema(store: SegmentStore, segments: list[Segment]) -> pa.Schema | None:
    """One schema every segment's rows fit (a column new in later segments is null in older ones), read
    from their footers; None when none of them can be read any more."""
    schemas = [schema for segment in segments if (schema := store.schema(segment)) is not None]
    if not schemas:
        return None
    return pa.unify_schemas(schemas, promote_options="permissive").remove_metadata()


def _conformed(store: SegmentStore, segments: list[Segment], schema: pa.Schema) -> Iterator[pa.Table]:
    """The segments' rows a row group at a time, each in ``schema``."""
    empty = schema.empty_table()
    for segment in segments:
        for group in store.row_groups(segment):
            if not group.schema.equals(schema):
                group = pa.concat_tables([empty, group], promote_options="permissive").select(schema.names)
            yield group.replace_schema_metadata(None)


class _Rows:
    """Counts the rows of tables passing through to a writer."""

    def __init__(self) -> None:
        self.rows = 0

    def count(self, tables: Iterator[pa.Table]) -> Iterator[pa.Table]:
        for table in tables:
            self.rows += table.num_rows
            yield table


def expire(store: SegmentStore, retention_days: float, now: datetime | None = None) -> tuple[int, datetime]:
    """Apply the retention period: delete the hours older than ``retention_days`` (0 keeps everything).

    Returns how many hours went and the cut-off used.
    """
    if retention_days <= 0:
        raise InvalidInput("the retention period is 0 days, which keeps everything; give a positive number")
    before = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    return prune(store, before), before


def prune(store: SegmentStore, before: datetime) -> int:
    """Delete every hour of the log that ended at or before ``before``; returns how many hours went."""
    removed = 0
    for model in store.models():
        for version in store.versions(model):
            for hour in store.hours(model, version):
                if hour + HOUR <= before:
                    store.remove_folder(store.hour_folder(model, version, hour))
                    removed += 1
            _remove_empty_days(store, f"{store.base}/{model}/{version}")
    return removed


def _remove_stale_temporaries(store: SegmentStore, folder: str) -> None:
    now = time.time()
    for entry in list_entries(store.fs, folder):
        if entry["name"].endswith(TEMPORARY_SUFFIX):
            modified = float(entry.get("mtime") or 0)
            if now - modified > STALE_TEMPORARY_SECONDS:
                log.warning("removing %s, left by a writer that stopped mid-write", entry["name"])
                store.remove([entry["name"]])


def _remove_empty_days(store: SegmentStore, version_folder: str) -> None:
    for entry in list_entries(store.fs, version_folder):
        if entry.get("type") == "directory" and not list_entries(store.fs, entry["name"]):
            store.remove_folder(entry["name"])
