"""Reading the prediction log: rows by model, version and time, SQL over all of it, the newest rows, ids.

Everything reads the segment files directly (Parquet), so it works while servers keep writing and needs no
server running. ``query`` runs DuckDB over the views ``predictions``, ``failures`` and ``usage`` (every
readable segment of each stream) and ``feedback`` (when given: the labels attached so far).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from shipyard.errors import InvalidInput
from shipyard.ids import made_at
from shipyard.predictions.segments import FAILURES, HOUR, USAGE, Segment, SegmentStore, hour_of

log = logging.getLogger("shipyard.predictions")

#: What ``find`` returns per known prediction id.
FOUND_COLUMNS = ["prediction_id", "model", "version", "timestamp", "prediction"]


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
        wanted = None if columns is None else list(dict.fromkeys([*columns, "timestamp"]))
        for segment in self.segments(model, version, start, end, store=store):
            for group in store.row_groups(segment, wanted):
                table = _between(group, start, end)
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
            newest.append(table)
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
        """The logged prediction behind each id that is known: model, version, time and prediction.

        Ids carry their time (``shipyard.ids``), so only the segments of those hours are read.
        """
        by_hour: dict[datetime, set[str]] = {}
        for identifier in prediction_ids:
            moment = made_at(identifier)
            if moment is not None:
                by_hour.setdefault(hour_of(moment), set()).add(identifier)
        found: dict[str, dict[str, Any]] = {}
        for hour, wanted in sorted(by_hour.items()):
            # A request answered just after the hour turned was made (and its id stamped) before it.
            for segment in self.segments(start=hour, end=hour + HOUR + HOUR):
                table = self.store.read(segment, FOUND_COLUMNS)
                if table is None:
                    continue
                mask = pc.is_in(table["prediction_id"], value_set=pa.array(sorted(wanted), pa.string()))
                for row in table.filter(mask).to_pylist():
                    found[row["prediction_id"]] = row
        return found

    def query(self, sql: str, *, feedback: pa.Table | None = None) -> pa.Table:
        """Run DuckDB ``sql`` over the views ``predictions``, ``failures``, ``usage`` and ``feedback``."""
        import duckdb

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
                connection.execute(f"CREATE VIEW {store.stream} AS SELECT * FROM {source}")
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
    "NULL::VARCHAR AS model, NULL::INTEGER AS version, NULL::VARCHAR AS protocol, NULL::FLOAT AS latency_ms, "
    "NULL::INTEGER AS batch_rows, NULL::FLOAT AS sample_rate, NULL::VARCHAR AS prediction"
)
_EMPTY_FAILURES = (
    "SELECT NULL::VARCHAR AS request_id, NULL::TIMESTAMPTZ AS timestamp, NULL::VARCHAR AS model, "
    "NULL::INTEGER AS version, NULL::VARCHAR AS protocol, NULL::SMALLINT AS status, NULL::VARCHAR AS error, "
    "NULL::BIGINT AS rows, NULL::FLOAT AS latency_ms, NULL::FLOAT AS sample_rate"
)
_EMPTY_USAGE = (
    "SELECT NULL::TIMESTAMPTZ AS timestamp, NULL::VARCHAR AS model, NULL::INTEGER AS version, "
    "NULL::VARCHAR AS process, NULL::DOUBLE AS cpu_seconds, "
    "NULL::BIGINT AS rss_bytes"
)


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


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
