"""Where prediction log segments live, how they are named, written and found again.

Layout under the log root (a local path or any fsspec URL), the same for each of its three streams —
``predictions`` (answered requests, a row per predicted row), ``failures`` (refused and failed requests, a
row each) and ``usage`` (CPU and memory samples of the serving processes)::

    <stream>/<model>/<version>/<YYYY-MM-DD>/<HH>/<first ms>-<writer>-<seq>.parquet   one writer's flush
    <stream>/<model>/<version>/<YYYY-MM-DD>/<HH>/c-<first ms>-<random>.parquet      compacted segments

Every segment is an immutable Parquet file, written whole: on a local disk to a ``.tmp`` name renamed into
place, on an object store in one PUT or a multipart upload that is aborted if the write fails. A reader
therefore never sees half a file unless the disk itself broke it, and then the segment is skipped with a
warning naming it; an object store that is down or refuses the credentials is an error, never a skip. A
compacted segment lists in its metadata the segments it replaces; readers leave those out even while
compaction has not deleted them yet, so no record is counted twice and none is missed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from shipyard.errors import ShipyardError
from shipyard.numerals import whole_number
from shipyard.store.filesystems import open_filesystem

log = logging.getLogger("shipyard.predictions")

T = TypeVar("T")

PREDICTIONS = "predictions"
FAILURES = "failures"
USAGE = "usage"
STREAMS = (PREDICTIONS, FAILURES, USAGE)
SUFFIX = ".parquet"
TEMPORARY_SUFFIX = ".tmp"
COMPACTED_PREFIX = "c-"
REPLACES_KEY = b"shipyard.replaces"
HOUR = timedelta(hours=1)
#: Hour folders whose segments' footers a store remembers; past that it forgets them all and reads again.
_MAX_REMEMBERED_FOLDERS = 10_000
#: Rows per Parquet row group: the unit a reader holds in memory at once (a compacted hour can be millions).
ROW_GROUP_ROWS = 100_000
#: The largest segment a reader about to read it keeps whole when it reads its footer (``hour_contents``).
KEPT_BYTES = 4 << 20


@dataclass(frozen=True)
class Segment:
    """One readable segment file: its path in the filesystem, the hour it belongs to, and its row count."""

    path: str
    model: str
    version: int
    hour: datetime
    rows: int
    #: For a compacted segment, the names of the segments it replaces.
    replaces: tuple[str, ...] = ()
    #: The whole file, read and opened in memory, when the reader listing it asked for it (about to read it)
    #: and it is small: its rows then cost no second open, read and parse of the footer (a long monitoring
    #: range reads thousands of an hour's segments).
    parsed: pq.ParquetFile | None = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


class SegmentStore:
    """The segment files of one stream (``predictions``, ``failures`` or ``usage``) of a prediction log."""

    def __init__(self, url: str, stream: str = PREDICTIONS) -> None:
        if stream not in STREAMS:
            raise ValueError(f"a prediction log stream is one of {', '.join(STREAMS)}; got {stream!r}")
        self.url = url
        self.stream = stream
        self.fs, self.root = open_filesystem(url, "prediction log")
        self.base = f"{self.root}/{stream}"
        self.local = isinstance(self.fs, LocalFileSystem)
        # Per hour folder, the footers of the segments it held when last listed: bounded by the files that
        # exist, so a store kept for days (the monitoring runner's) stays the size of the log's listing.
        self._footers: dict[str, dict[_FooterKey, _Footer]] = {}

    # -- paths ---------------------------------------------------------------------------------------------
    def hour_folder(self, model: str, version: int, hour: datetime) -> str:
        return f"{self.base}/{model}/{version}/{hour:%Y-%m-%d}/{hour:%H}"

    def models(self) -> list[str]:
        return sorted(_names(self.fs, self.base))

    def versions(self, model: str) -> list[int]:
        found = _names(self.fs, f"{self.base}/{model}")
        return sorted(number for number in map(whole_number, found) if number is not None)

    def hours(
        self, model: str, version: int, start: datetime | None = None, end: datetime | None = None
    ) -> list[datetime]:
        """Every hour with a folder for this model version (overlapping ``[start, end)`` when given), oldest
        first. Only the day folders of the range are listed: a window lists its own day, not every day the log
        has ever held; a long range lists which days exist first."""
        base = f"{self.base}/{model}/{version}"
        if start is not None and end is not None and end - start <= _LIST_DAYS_DIRECTLY:
            days = _days(start, end)  # a window: its own days, no listing of every day
        else:
            days = [day for day in map(_day_of, _names(self.fs, base)) if day is not None]
        first_day = None if start is None else hour_of(start).replace(hour=0)
        hours = []
        for midnight in days:
            if (first_day is not None and midnight < first_day) or (end is not None and midnight >= end):
                continue
            for hour in _names(self.fs, f"{base}/{midnight:%Y-%m-%d}"):
                if len(hour) == 2 and hour.isdigit() and int(hour) < 24:
                    hours.append(midnight.replace(hour=int(hour)))
        return sorted(hour for hour in hours if _overlaps(hour, start, end))

    # -- writing -------------------------------------------------------------------------------------------
    def write(
        self, folder: str, name: str, table: pa.Table, metadata: dict[bytes, bytes] | None = None
    ) -> str:
        """Write ``table`` as the segment ``folder/name`` in one piece; returns its path."""
        return self.write_tables(folder, name, table.schema, [table], metadata)

    def write_tables(
        self,
        folder: str,
        name: str,
        schema: pa.Schema,
        tables: Iterable[pa.Table],
        metadata: dict[bytes, bytes] | None = None,
    ) -> str:
        """Write ``tables`` (each of ``schema``) as the one segment ``folder/name``, in row groups of
        ``ROW_GROUP_ROWS`` rows, holding one group at a time: compacting an hour of millions of rows costs
        the memory of a group, not of the hour. Returns its path."""
        if metadata:
            schema = schema.with_metadata({**(schema.metadata or {}), **metadata})
        path = f"{folder}/{name}"
        if not self.local:
            with self.fs.open(path, "wb") as target:
                _write_groups(target, schema, tables)
            return path
        os.makedirs(folder, exist_ok=True)
        temporary = f"{path}.{uuid.uuid4().hex[:8]}{TEMPORARY_SUFFIX}"
        try:
            _write_groups(temporary, schema, tables)
            os.replace(temporary, path)
        except BaseException:
            # A failed write (a full disk) leaves no partial file behind to take space or mislead.
            with contextlib.suppress(OSError):
                os.remove(temporary)
            raise
        return path

    # -- reading -------------------------------------------------------------------------------------------
    def segments(
        self,
        model: str,
        version: int,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Segment]:
        """The readable segments of the hours overlapping ``[start, end)``, replaced ones left out.

        A segment that cannot be read (truncated by a crash of the disk, or damaged) is skipped with a warning
        naming it; every other segment still counts.
        """
        found: list[Segment] = []
        for hour in self.hours(model, version, start, end):
            found.extend(self.hour_contents(model, version, hour)[0])
        return found

    def hour_contents(
        self, model: str, version: int, hour: datetime, *, keep_small: bool = False
    ) -> tuple[list[Segment], list[str]]:
        """An hour folder's live segments, and the paths of segments a compacted one already replaces;
        ``keep_small`` keeps each segment of at most ``KEPT_BYTES`` open in memory once its footer is read."""
        folder = self.hour_folder(model, version, hour)
        entries = [entry for entry in list_entries(self.fs, folder) if entry["name"].endswith(SUFFIX)]
        known = self._footers.pop(folder, {})
        listed: dict[_FooterKey, _Footer] = {}
        readable: list[Segment] = []
        replaced: set[str] = set()
        for entry in entries:
            key = _footer_key(entry)
            footer, parsed = (known[key], None) if key in known else self._read_footer(entry, keep_small)
            listed[key] = footer
            if footer is None:
                continue
            rows, replaces = footer
            readable.append(Segment(entry["name"], model, version, hour, rows, tuple(replaces), parsed))
            replaced.update(replaces)
        self._remember(folder, listed)
        live = [segment for segment in readable if segment.name not in replaced]
        leftovers = [segment.path for segment in readable if segment.name in replaced]
        return live, leftovers

    def _remember(self, folder: str, footers: dict[_FooterKey, _Footer]) -> None:
        """Keep ``footers``, those of every file ``folder`` holds now, in place of what it held before."""
        if len(self._footers) >= _MAX_REMEMBERED_FOLDERS:  # a reader that lists ever more hours
            self._footers.clear()
        if footers:
            self._footers[folder] = footers

    def _read_footer(self, entry: dict[str, Any], keep_small: bool) -> tuple[_Footer, pq.ParquetFile | None]:
        """``(rows, names it replaces)`` from a segment's footer, or None when it is unreadable; and the file
        opened in memory, when ``keep_small`` and it is that small."""
        size = int(entry.get("size") or 0)
        parsed = None
        try:
            with self._open(entry["name"]) as source:
                if keep_small and 0 < size <= KEPT_BYTES:
                    parsed = pq.ParquetFile(pa.BufferReader(source.read()))
                    metadata = parsed.metadata
                else:
                    metadata = pq.read_metadata(source)
            replaces = json.loads((metadata.metadata or {}).get(REPLACES_KEY, b"[]"))
            return (metadata.num_rows, list(replaces)), parsed
        except FileNotFoundError:
            return None, None  # compacted away between listing and reading: its rows are in the compacted one
        except ShipyardError:
            raise  # the object store is down or refuses us: every segment is unreadable, none is damaged
        except Exception as error:  # pyarrow reports a damaged file in several exception types
            log.warning("prediction log segment %s is unreadable and is skipped: %s", entry["name"], error)
            return None, None

    def schema(self, segment: Segment) -> pa.Schema | None:
        """The segment's schema from its footer, or None when it vanished or broke meanwhile."""

        def read() -> pa.Schema:
            if segment.parsed is not None:
                return segment.parsed.schema_arrow
            with self._open(segment.path) as source:
                return pq.read_schema(source)

        return _readable(segment.path, read)

    def read(self, segment: Segment, columns: list[str] | None = None) -> pa.Table | None:
        """The segment's rows (only ``columns`` when given), or None when it vanished or broke meanwhile."""

        def read() -> pa.Table:
            with self._open(segment.path) as source:
                return pq.read_table(source, columns=columns)

        return _readable(segment.path, read)

    def row_groups(
        self, segment: Segment, columns: list[str] | None = None, *, threads: bool = True
    ) -> Iterator[pa.Table]:
        """The segment's rows one row group at a time, so a reader's memory holds one group, not a file.
        ``threads=False`` decodes in this thread: for a process that already has a CPU to itself (a
        monitoring worker), Arrow's threads on an hour's small segment cost more CPU than they save."""
        try:
            if segment.parsed is not None:
                yield from _groups_of(segment.parsed, columns, threads)
                return
            with self._open(segment.path) as source:
                yield from _groups_of(pq.ParquetFile(source), columns, threads)
        except FileNotFoundError:
            return
        except ShipyardError:
            raise
        except Exception as error:
            log.warning("prediction log segment %s is unreadable and is skipped: %s", segment.path, error)

    def _open(self, path: str) -> Any:
        """A segment opened for reading: by Arrow's own file reader on local disk (about half the time of a
        Python file object for an hour's segment, which a long monitoring range reads thousands of)."""
        return pa.OSFile(path, "rb") if self.local else self.fs.open(path, "rb")

    def remove(self, paths: list[str]) -> None:
        for path in paths:
            try:
                self.fs.rm(path)
            except FileNotFoundError:
                continue

    def remove_folder(self, folder: str) -> None:
        self._footers.pop(folder, None)
        try:
            self.fs.rm(folder, recursive=True)
        except FileNotFoundError:
            return


#: A segment's identity in a listing (path, size, modification time), and what its footer says: its rows and
#: the segments it replaces, or None when it is unreadable.
_FooterKey = tuple[str, int, float]
_Footer = tuple[int, list[str]] | None


def _footer_key(entry: dict[str, Any]) -> _FooterKey:
    return entry["name"], int(entry.get("size") or 0), float(entry.get("mtime") or entry.get("created") or 0)


#: A range this short lists the folders of its own days; a longer one lists which days exist first.
_LIST_DAYS_DIRECTLY = timedelta(days=2)


def _readable(path: str, read: Callable[[], T]) -> T | None:
    """``read()`` of the segment at ``path``, or None when it vanished (compacted away) or broke meanwhile,
    with a warning naming it; an object store that fails is an error, never a skip."""
    try:
        return read()
    except FileNotFoundError:
        return None
    except ShipyardError:
        raise
    except Exception as error:  # pyarrow reports a damaged file in several exception types
        log.warning("prediction log segment %s is unreadable and is skipped: %s", path, error)
        return None


def _write_groups(target: Any, schema: pa.Schema, tables: Iterable[pa.Table]) -> None:
    """Parquet of ``tables`` at ``target``, cut into groups of ``ROW_GROUP_ROWS`` rows whatever the sizes of
    the tables given (an hour's writer segments hold a second's rows each)."""
    with pq.ParquetWriter(target, schema, compression="zstd") as writer:
        pending: list[pa.Table] = []
        held = 0
        for table in tables:
            pending.append(table.replace_schema_metadata(schema.metadata))
            held += table.num_rows
            if held < ROW_GROUP_ROWS:
                continue
            gathered = pa.concat_tables(pending)
            whole = held - held % ROW_GROUP_ROWS
            writer.write_table(gathered.slice(0, whole), row_group_size=ROW_GROUP_ROWS)
            pending, held = [gathered.slice(whole)], held - whole
        if held or not pending:
            rest = pa.concat_tables(pending) if pending else schema.empty_table()
            writer.write_table(rest, row_group_size=ROW_GROUP_ROWS)


def _groups_of(parquet: pq.ParquetFile, columns: list[str] | None, threads: bool) -> Iterator[pa.Table]:
    for index in range(parquet.num_row_groups):
        yield parquet.read_row_group(index, columns=columns, use_threads=threads)


def _days(start: datetime, end: datetime) -> list[datetime]:
    """The UTC days ``[start, end)`` touches."""
    day = hour_of(start).replace(hour=0)
    days = []
    while day < end:
        days.append(day)
        day += timedelta(days=1)
    return days


def _day_of(name: str) -> datetime | None:
    """The UTC midnight a day folder's name gives, or None for a name that is not one of ours."""
    try:
        return datetime.strptime(name, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


def _overlaps(hour: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or hour + HOUR > start) and (end is None or hour < end)


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def list_entries(fs: Any, folder: str) -> list[dict[str, Any]]:
    """A folder's entries as fsspec details them (``name`` its full path, ``type``, ``size``, ``mtime``); on a
    local disk from one ``scandir``, a fraction of the cost of fsspec's, which a monitor pays per window."""
    if isinstance(fs, LocalFileSystem):
        return _local_entries(folder)
    fs.invalidate_cache(folder)  # object stores cache listings; servers keep adding segments
    try:
        return list(fs.ls(folder, detail=True))
    except FileNotFoundError:
        return []


def _local_entries(folder: str) -> list[dict[str, Any]]:
    entries = []
    try:
        with os.scandir(folder) as found:
            for entry in found:
                try:
                    stat = entry.stat()
                except FileNotFoundError:
                    continue  # removed (compacted, or a temporary file renamed) since the listing
                kind = "directory" if entry.is_dir() else "file"
                path = entry.path.replace(os.sep, "/")
                entries.append({"name": path, "type": kind, "size": stat.st_size, "mtime": stat.st_mtime})
    except (FileNotFoundError, NotADirectoryError):
        return []
    return entries


def _names(fs: Any, folder: str) -> list[str]:
    """The names in ``folder`` (none when it does not exist). On a local disk, without fsspec's details:
    its listing stats every entry, and monitoring lists a day's folders once per window."""
    if isinstance(fs, LocalFileSystem):
        try:
            return os.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return []
    return [entry["name"].rstrip("/").rsplit("/", 1)[-1] for entry in list_entries(fs, folder)]
