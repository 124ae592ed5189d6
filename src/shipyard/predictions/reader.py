"""Reading the prediction log: rows by model, version and time, SQL over all of it, the newest rows, ids.

Everything reads the segment files directly (Parquet), so it works while servers keep writing and needs no
server running. ``query`` runs DuckDB over the views ``predictions``, ``failures`` and ``usage`` (every
readable segment of each stream) and ``feedback`` (when given: the labels attached so far).

Segments written before rollouts existed have no ``arm`` column; every read here gives their rows the arm
``stable`` (the only one there was), so a reader never has to ask how old a segment is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.errors import InvalidInput, MissingDependency
from shipyard.predictions.records import DEFAULT_ARM
from shipyard.predictions.segments import FAILURES, HOUR, PREDICTIONS, USAGE, Segment, SegmentStore

log = logging.getLogger("shipyard.predictions")

#: What ``find`` returns per known prediction id.
FOUND_COLUMNS = ["prediction_id", "model", "version", "timestamp", "prediction"]
_FOUND_TYPES = {
    "prediction_id": pa.string(),
    "model": pa.string(),
    "version": pa.int32(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
}
_HOUR_MS = 3_600_000
#: ``progress(done, total)``: how far a long read has come.
Progress = Callable[[int, int], None]


class PredictionLog:
    """Read access to the prediction log at ``url`` (the workspace's ``log_url``)."""

    def __init__(self, url: str) -> None:
        self.store = SegmentStore(url)
        self.failure_store = SegmentStore(url, FAILURES)
        self.usage_store = SegmentStore(url, USAGE)

    @property
    def stores(self) -> tuple[SegmentStore, ...]:
        """Every stream's segments: what compaction and retention look after."""
        return (self.store, self.failure_store, self.usage_store)

    def segments(
        self,
        model: str | None = None,
        version: int | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        store: SegmentStore | None = None,
    ) -> list[Segment]:
        """Readable segments of ``store`` (default: the predictions) in the hours overlapping the range."""
        store = store or self.store
        models = [model] if model is not None else store.models()
        found = []
        for name in models:
            versions = [version] if version is not None else store.versions(name)
            for number in versions:
                found.extend(store.segments(name, number, start, end))
        return found

    def segments_in_hours(self, model: str, version: int, hours: tuple[datetime, ...]) -> list[Segment]:
        """The readable prediction segments of these hours (found by ``hours_by_stream``), without listing
        which hours exist again, each small one held whole, to be read next."""
        return [
            segment
            for hour in hours
            for segment in self.store.hour_contents(model, version, hour, keep_small=True)[0]
        ]

    def hours_by_stream(
        self, model: str, version: int, start: datetime, end: datetime
    ) -> dict[str, list[datetime]]:
        """Per stream (``predictions``, ``failures``, ``usage``), the hours overlapping ``[start, end)`` that
        hold anything of this version, oldest first: the only hours a monitor has to read. Found by listing
        folders, never by opening a segment."""
        return {store.stream: store.hours(model, version, start, end) for store in self.stores}

    def batches(
        self,
        model: str | None = None,
        version: int | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        columns: list[str] | None = None,
    ) -> Iterator[pa.Table]:
        """The logged rows in ``[start, end)``, one Parquet row group (at most 100,000 rows) at a time: memory
        holds one group, however long the window."""
        return self._batches(self.store, model, version, start, end, columns)

    def failures(
        self, model: str, version: int, start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[pa.Table]:
        """The requests of this version that got no prediction in ``[start, end)``, a row each."""
        return self._batches(self.failure_store, model, version, start, end, None)

    def usage(
        self, model: str, version: int, start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[pa.Table]:
        """The CPU and memory samples of the processes serving this version in ``[start, end)``."""
        return self._batches(self.usage_store, model, version, start, end, None)

    def _batches(
        self,
        store: SegmentStore,
        model: str | None,
        version: int | None,
        start: datetime | None,
        end: datetime | None,
        columns: list[str] | None,
    ) -> Iterator[pa.Table]:
        segments = self.segments(model, version, start, end, store=store)
        return self.segment_batches(segments, start, end, columns, store=store)

    def segment_batches(
        self,
        segments: list[Segment],
        start: datetime | None = None,
        end: datetime | None = None,
        columns: list[str] | None = None,
        *,
        store: SegmentStore | None = None,
        threads: bool = True,
    ) -> Iterator[pa.Table]:
        """The rows of ``segments`` (from ``segments()``) in ``[start, end)``, a row group at a time
        (``threads``: see ``SegmentStore.row_groups``)."""
        store = store or self.store
        stamped = None if columns is None else list(dict.fromkeys([*columns, "timestamp"]))
        for segment in segments:
            # A segment holds its hour's rows: one whose hour lies in the range needs no filtering (and no
            # timestamps, unless asked for).
            whole = (start is None or segment.hour >= start) and (end is None or segment.hour + HOUR <= end)
            wanted = columns if whole else stamped
            for group in store.row_groups(segment, wanted, threads=threads):
                table = _with_arm(group, store, wanted)
                table = table if whole else _between(table, start, end)
                if table.num_rows:
                    yield table if columns is None else table.select(columns)

    def scan(
        self,
        model: str | None = None,
        version: int | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        columns: list[str] | None = None,
    ) -> pa.Table | None:
        """All logged rows in ``[start, end)`` as one table, or None when there are none."""
        tables = list(self.batches(model, version, start, end, columns))
        if not tables:
            return None
        return pa.concat_tables(tables, promote_options="permissive")

    def tail(self, rows: int = 10, model: str | None = None) -> pa.Table | None:
        """The newest ``rows`` logged rows (of ``model``, or of every model), oldest first."""
        if rows <= 0:
            raise InvalidInput(f"rows must be at least 1, got {rows}")
        segments = sorted(self.segments(model), key=lambda segment: (segment.hour, segment.name))
        newest: list[pa.Table] = []
        have = 0
        # Segment names lead with their first record's time, so reading from the end finds the newest rows.
        for segment in reversed(segments):
            table = self.store.read(segment)
            if table is None:
                continue
            newest.append(_with_arm(table, self.store, None))
            have += table.num_rows
            if have >= rows * 4 and len(newest) > 1:
                break
        if not newest:
            return None
        table = pa.concat_tables(newest, promote_options="permissive")
        order = pc.sort_indices(table, sort_keys=[("timestamp", "ascending"), ("prediction_id", "ascending")])
        table = table.take(order)
        return table.slice(max(0, table.num_rows - rows))

    def find(self, prediction_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The logged prediction behind each id that is known: model, version, time and prediction."""
        found: dict[str, dict[str, Any]] = {}
        for piece in self._found_pieces(prediction_ids, FOUND_COLUMNS):
            for row in piece.to_pylist():
                found[row["prediction_id"]] = row
        return found

    def find_table(
        self,
        prediction_ids: Iterable[str] | pa.Array,
        columns: list[str] | None = None,
        *,
        progress: Progress | None = None,
    ) -> pa.Table:
        """The logged rows of the known ids among ``prediction_ids`` as one table (``columns``, default the
        id, model, version and time; a prediction column of several types would not fit in one table).

        Each segment that can hold one of the ids is read once, however many ids and hours are asked for;
        ``progress(rows read, rows to read)`` follows the reading. An id logged twice appears once.
        """
        wanted = columns or ["prediction_id", "model", "version", "timestamp"]
        pieces = list(self._found_pieces(prediction_ids, wanted, progress=progress))
        if not pieces:
            return pa.table({name: pa.array([], _FOUND_TYPES.get(name, pa.null())) for name in wanted})
        table = pa.concat_tables(pieces, promote_options="permissive")
        identifiers = table["prediction_id"]
        if len(pc.unique(identifiers)) < table.num_rows:  # logged twice (a replayed segment): keep one
            table = table.take(pa.array(_first_of_each(identifiers)))
        return table

    def _found_pieces(
        self,
        prediction_ids: Iterable[str] | pa.Array,
        columns: list[str],
        *,
        progress: Progress | None = None,
    ) -> Iterator[pa.Table]:
        """The logged rows of the known ids among ``prediction_ids``, a segment's worth at a time.

        Ids carry the time they were made (``shipyard.ids``), so only the hours of those times are read, and
        the next hour too (a request answered just after the hour turned was stamped before it). Each of
        those hours' segments is read once and its rows matched against the ids of its own and the previous
        hour, so a call costs one pass over the segments it needs, not one per hour asked for.
        """
        by_hour = _ids_by_hour(prediction_ids)
        if not by_hour:
            return
        plan: list[tuple[Segment, pa.Array]] = []
        for model in self.store.models():
            for version in self.store.versions(model):
                for hour in self.store.hours(model, version):
                    number = _hour_number(hour)
                    near = [by_hour[n] for n in (number, number - 1) if n in by_hour]
                    if not near:
                        continue
                    value_set = pa.concat_arrays(near) if len(near) > 1 else near[0]
                    for segment in self.store.hour_contents(model, version, hour)[0]:
                        plan.append((segment, value_set))
        total = sum(segment.rows for segment, _ in plan)
        done = 0
        if progress is not None:
            progress(0, total)
        reading = list(dict.fromkeys(["prediction_id", *columns]))
        for segment, value_set in plan:
            table = self._read_with_arm(segment, reading)
            done += segment.rows
            if table is not None:
                matched = table.filter(pc.is_in(table["prediction_id"], value_set=value_set))
                if matched.num_rows:
                    yield matched.select(columns)
            if progress is not None:
                progress(done, total)

    def _read_with_arm(self, segment: Segment, columns: list[str]) -> pa.Table | None:
        """The segment's ``columns``; asked for the ``arm``, a segment older than rollouts reads as stable
        (read by row groups, which leave out a column the file lacks instead of failing)."""
        if "arm" not in columns:
            return self.store.read(segment, columns)
        groups = [_with_arm(group, self.store, columns) for group in self.store.row_groups(segment, columns)]
        return pa.concat_tables(groups) if groups else None

    def query(self, sql: str, *, feedback: pa.Table | None = None) -> pa.Table:
        """Run DuckDB ``sql`` over the views ``predictions``, ``failures``, ``usage`` and ``feedback``.

        DuckDB is the ``query`` extra: serving and monitoring read the log without it."""
        try:
            import duckdb
        except ImportError as error:
            raise MissingDependency("duckdb", "query", "SQL over the prediction log") from error

        connection = duckdb.connect()
        try:
            if not self.store.local:
                connection.register_filesystem(self.store.fs)
            for store, empty in (
                (self.store, _EMPTY_PREDICTIONS),
                (self.failure_store, _EMPTY_FAILURES),
                (self.usage_store, _EMPTY_USAGE),
            ):
                paths = [segment.path for segment in self.segments(store=store)]
                if not store.local:  # DuckDB reaches them through fsspec, by full URL
                    paths = [store.fs.unstrip_protocol(path) for path in paths]
                if paths:
                    listed = ", ".join("'" + _sql_text(path) + "'" for path in paths)
                    source = f"read_parquet([{listed}], union_by_name = true)"
                else:
                    source = f"({empty}) WHERE false"
                view = _arm_view(connection, source) if store.stream in _ARM_STREAMS else "*"
                connection.execute(f"CREATE VIEW {store.stream} AS SELECT {view} FROM {source}")
            if feedback is not None:
                connection.register("feedback", feedback)
            try:
                return connection.sql(sql).to_arrow_table()
            except duckdb.Error as error:
                raise InvalidInput(f"the query failed: {error}") from None
        finally:
            connection.close()


_EMPTY_PREDICTIONS = (
    "SELECT NULL::VARCHAR AS prediction_id, NULL::VARCHAR AS request_id, NULL::TIMESTAMPTZ AS timestamp, "
    "NULL::VARCHAR AS model, NULL::INTEGER AS version, NULL::VARCHAR AS protocol, NULL::VARCHAR AS arm, "
    "NULL::FLOAT AS latency_ms, "
    "NULL::INTEGER AS batch_rows, NULL::FLOAT AS sample_rate, NULL::VARCHAR AS prediction"
)
_EMPTY_FAILURES = (
    "SELECT NULL::VARCHAR AS request_id, NULL::TIMESTAMPTZ AS timestamp, NULL::VARCHAR AS model, "
    "NULL::INTEGER AS version, NULL::VARCHAR AS protocol, NULL::VARCHAR AS arm, NULL::SMALLINT AS status, "
    "NULL::VARCHAR AS error, "
    "NULL::BIGINT AS rows, NULL::FLOAT AS latency_ms, NULL::FLOAT AS sample_rate"
)
_EMPTY_USAGE = (
    "SELECT NULL::TIMESTAMPTZ AS timestamp, NULL::VARCHAR AS model, NULL::INTEGER AS version, "
    "NULL::VARCHAR AS process, NULL::DOUBLE AS cpu_seconds, "
    "NULL::BIGINT AS rss_bytes"
)


#: The streams whose rows carry the arm that answered (usage samples are a process's, not an arm's).
_ARM_STREAMS = (PREDICTIONS, FAILURES)


def _with_arm(table: pa.Table, store: SegmentStore, columns: list[str] | None) -> pa.Table:
    """``table`` with the ``arm`` column: ``stable`` for rows whose segment predates rollouts (no column, or
    nulls where compaction merged old segments with new ones)."""
    if store.stream not in _ARM_STREAMS:
        return table
    if "arm" in table.column_names:
        arms = table["arm"]
        if not arms.null_count:
            return table
        return table.set_column(table.column_names.index("arm"), "arm", pc.fill_null(arms, DEFAULT_ARM))
    if columns is not None and "arm" not in columns:
        return table
    arms = pa.array([DEFAULT_ARM] * table.num_rows, pa.string())
    at = table.column_names.index("protocol") + 1 if "protocol" in table.column_names else table.num_columns
    return table.add_column(at, "arm", arms)


def _arm_view(connection: Any, source: str) -> str:
    """The select list of a stream's view: every column, with ``arm`` read as stable where a segment
    predates rollouts (a null in a union of old and new segments, or no column at all)."""
    names = [row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    if "arm" in names:
        return f"* REPLACE (coalesce(arm, '{DEFAULT_ARM}') AS arm)"
    return f"*, '{DEFAULT_ARM}' AS arm"


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


def _ids_by_hour(prediction_ids: Iterable[str] | pa.Array) -> dict[int, pa.Array]:
    """The distinct ids, grouped by the hour (hours since 1970) their leading time stamp names; text that
    is not one of our ids is left out, as no segment can hold it."""
    identifiers = (
        prediction_ids if isinstance(prediction_ids, pa.Array) else pa.array(prediction_ids, pa.string())
    )
    identifiers = pc.unique(identifiers.cast(pa.string()).drop_null())
    # The first 12 characters are the time in milliseconds, in hexadecimal (shipyard.ids).
    identifiers = identifiers.filter(pc.match_substring_regex(identifiers, r"^[0-9a-f]{12}"))
    if not len(identifiers):
        return {}
    heads = pc.utf8_slice_codeunits(identifiers, 0, 12).cast(pa.binary(12))
    digits = np.frombuffer(heads.buffers()[1], dtype=np.uint8, count=12 * len(heads)).reshape(-1, 12)
    millis = _HEX_VALUES[digits] @ _HEX_PLACES
    hours = millis // _HOUR_MS
    order = np.argsort(hours, kind="stable")
    ordered = identifiers.take(pa.array(order))
    numbers, starts = np.unique(hours[order], return_index=True)
    ends = [*starts[1:], len(order)]
    return {
        int(number): ordered.slice(int(start), int(end) - int(start))
        for number, start, end in zip(numbers, starts, ends, strict=True)
    }


_HEX_VALUES = np.zeros(256, dtype=np.int64)
_HEX_VALUES[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16)
_HEX_PLACES = 16 ** np.arange(11, -1, -1, dtype=np.int64)


def _hour_number(hour: datetime) -> int:
    return int(hour.astimezone(UTC).timestamp()) // 3600


def _first_of_each(identifiers: pa.ChunkedArray) -> list[int]:
    """The position of each distinct value's first occurrence."""
    seen: dict[str, int] = {}
    for position, identifier in enumerate(identifiers.to_pylist()):
        seen.setdefault(identifier, position)
    return list(seen.values())


def _between(table: pa.Table, start: datetime | None, end: datetime | None) -> pa.Table:
    if start is None and end is None:
        return table
    stamps = table["timestamp"]
    mask = None
    if start is not None:
        mask = pc.greater_equal(stamps, pa.scalar(start, stamps.type))
    if end is not None:
        before = pc.less(stamps, pa.scalar(end, stamps.type))
        mask = before if mask is None else pc.and_(mask, before)
    return table.filter(mask)
