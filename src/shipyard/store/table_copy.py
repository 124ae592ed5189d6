"""Copying every row of one metadata database into another, ids and all, without losing or changing any.

Moving a workspace from SQLite to PostgreSQL copies the tables as they are: rows keep their primary keys,
so every reference between tables (a version's model, an alias's model, an event's alert) still holds.
Tables are copied in the schema's dependency order (``Base.metadata.sorted_tables``): a row's parents are
always there before it, so a copy cut off halfway leaves a destination whose references hold, and which the
next run completes.

The copy is planned before anything is written: a destination row with a source row's key but other
values, or a row the source does not have, refuses the copy (naming the table and the row), as the
destination then holds other data. Rows already there and identical are skipped, so a run can be repeated.
The source is read in one read-only transaction: a consistent snapshot, and a SQLite file that is opened
read-only, never written (not even checkpointed).
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, Engine, Table, create_engine, event, func, inspect, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.exc import IntegrityError as DatabaseIntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from shipyard.errors import (
    ConfigurationError,
    Conflict,
    InvalidInput,
    MissingDependency,
    NotFound,
    Unavailable,
)
from shipyard.store.database import CONNECT_TIMEOUT, Database
from shipyard.store.schema import Base, DatasetRow, DatasetVersionRow, ModelRow, VersionRow

#: Rows read, compared and written at once: bounded memory on a table of any size.
BATCH_ROWS = 500
#: Every table of the schema, parents before children.
TABLES: tuple[Table, ...] = tuple(Base.metadata.sorted_tables)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TableCount:
    """One table's rows: in the source, in the destination before the copy, copied, and there after it."""

    table: str
    source: int
    before: int
    copied: int
    after: int

    @property
    def complete(self) -> bool:
        return self.source == self.after

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "source": self.source,
            "destination_before": self.before,
            "copied": self.copied,
            "destination_after": self.after,
        }


@dataclass(frozen=True)
class StoredArtifact:
    """An artifact the source's rows refer to, and whose it is (``model fraud/3``), for messages."""

    sha256: str
    size: int
    owner: str


@contextlib.contextmanager
def read_only_snapshot(url: str) -> Iterator[Connection]:
    """A connection to the database at ``url`` inside one read-only transaction (a consistent snapshot).

    A SQLite file is opened with ``mode=ro``: SQLite itself refuses any write, and nothing is checkpointed
    into the file when the connection closes. A SQLite file that does not exist is ``NotFound``, never made.
    """
    engine = _read_only_engine(url)
    try:
        with _reachable(engine), engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                connection = connection.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
            with connection.begin():
                yield connection
    finally:
        engine.dispose()


def _read_only_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(f"registry URL {url!r} is not a database URL: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if not path or path == ":memory:":
            raise ConfigurationError("the workspace to move has no database file (an in-memory database)")
        if not Path(path).is_file():
            raise NotFound(f"there is no SQLite database at {path}")
        engine = create_engine(f"sqlite:///file:{Path(path).resolve()}?mode=ro&uri=true")

        @event.listens_for(engine, "connect")
        def _configure(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # BEGIN below: one snapshot across every SELECT

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN")

        return engine
    connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": CONNECT_TIMEOUT}
    try:
        return create_engine(parsed, connect_args=connect_args)
    except ModuleNotFoundError as exc:
        raise MissingDependency("psycopg", "postgres", "a PostgreSQL registry") from exc


@contextlib.contextmanager
def _reachable(engine: Engine) -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        if not exc.connection_invalidated and not _connection_failure(exc):
            raise
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
        shown = engine.url.render_as_string(hide_password=True)
        raise Unavailable(f"the metadata database {shown} is unreachable ({reason})") from None


def _connection_failure(exc: DBAPIError) -> bool:
    return "connect" in str(exc.orig).lower() or "unable to open" in str(exc.orig).lower()


def schema_revision(connection: Connection) -> str | None:
    """The schema revision recorded in the database (None: no shipyard schema), read in ``connection``."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def count_rows(connection: Connection | Session) -> dict[str, int]:
    """Every table's row count."""
    return {
        table.name: int(connection.execute(select(func.count()).select_from(table)).scalar_one())
        for table in TABLES
    }


def stored_artifacts(connection: Connection) -> list[StoredArtifact]:
    """Every artifact the database's model and dataset versions refer to, once per hash."""
    found: dict[str, StoredArtifact] = {}
    versions = select(ModelRow.name, VersionRow.version, VersionRow.artifact_sha256, VersionRow.artifact_size)
    for name, number, sha256, size in connection.execute(versions.join_from(VersionRow, ModelRow)):
        found.setdefault(sha256, StoredArtifact(sha256, int(size), f"model {name}/{number}"))
    snapshots = DatasetVersionRow
    datasets = select(DatasetRow.name, snapshots.version, snapshots.sha256, snapshots.size)
    for name, number, sha256, size in connection.execute(datasets.join_from(snapshots, DatasetRow)):
        found.setdefault(sha256, StoredArtifact(sha256, int(size), f"dataset {name}/{number}"))
    return list(found.values())


def plan_copy(source: Connection, destination: Database) -> dict[str, int]:
    """The number of rows to copy into each table; ``Conflict`` when the destination holds other data.

    Every source row is looked up in the destination by its primary key: missing ones are to be copied,
    identical ones skipped, different ones refuse the copy. A destination row whose key the source does not
    have refuses it too (the destination is another workspace's, or was written to since).
    """
    missing: dict[str, int] = {}
    with destination.reading() as session:
        before = count_rows(session)
        for table in TABLES:
            present = 0
            missing[table.name] = 0
            for rows, existing in _batches(source, session, table):
                for row in rows:
                    key = _key(table, row)
                    if key not in existing:
                        missing[table.name] += 1
                        continue
                    present += 1
                    _refuse_different(table, key, row, existing[key])
            extra = before[table.name] - present
            if extra > 0:
                raise Conflict(
                    f"the destination's table {table.name} holds {extra} row(s) the workspace being moved "
                    "does not have: move it into an empty database, or one an earlier run of this move "
                    "filled"
                )
    return missing


def copy_rows(
    source: Connection, destination: Database, missing: dict[str, int], progress: Progress | None = None
) -> dict[str, int]:
    """Insert every source row the destination lacks, table by table in dependency order, a batch per
    transaction; return how many each table received. Tables with nothing ``missing`` are not read."""
    copied: dict[str, int] = {}
    for table in TABLES:
        copied[table.name] = 0
        if not missing.get(table.name):
            continue
        if progress is not None:
            progress(f"copying {missing[table.name]} row(s) of {table.name}")
        for rows in _batch_keys(source, table):
            copied[table.name] += destination.write(functools.partial(_insert_new, table=table, rows=rows))
    return copied


def advance_sequences(destination: Database) -> None:
    """Move each PostgreSQL id sequence past the largest id copied, so the next row gets a new id (SQLite
    takes the largest id plus one by itself)."""
    if destination.dialect != "postgresql":
        return

    def work(session: Session) -> None:
        for table in TABLES:
            column = table.autoincrement_column
            if column is None:
                continue
            sequence = session.execute(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": table.name, "column": column.name},
            ).scalar()
            largest = session.execute(select(func.max(column))).scalar()
            if sequence is None or largest is None:
                continue
            current = session.execute(
                text("SELECT pg_sequence_last_value(CAST(:sequence AS regclass))"), {"sequence": sequence}
            ).scalar()
            if current is None or current < largest:
                session.execute(
                    text("SELECT setval(CAST(:sequence AS regclass), :value, true)"),
                    {"sequence": sequence, "value": largest},
                )

    destination.write(work)


# -- batches and comparison ------------------------------------------------------------------------------
def _primary_key(table: Table) -> Column[Any]:
    columns = list(table.primary_key.columns)
    if len(columns) != 1:  # pragma: no cover - every shipyard table has a one-column key
        raise AssertionError(f"table {table.name} has a composite primary key")
    return columns[0]


def _batch_keys(source: Connection, table: Table) -> Iterator[list[dict[str, Any]]]:
    """The source's rows of ``table`` in primary-key order, ``BATCH_ROWS`` at a time, as column dicts."""
    key = _primary_key(table)
    last: Any = None
    while True:
        query = select(table).order_by(key).limit(BATCH_ROWS)
        if last is not None:
            query = query.where(key > last)
        rows = [dict(row._mapping) for row in source.execute(query)]
        if not rows:
            return
        yield rows
        last = rows[-1][key.name]


def _batches(
    source: Connection, destination: Session, table: Table
) -> Iterator[tuple[list[dict[str, Any]], dict[Any, dict[str, Any]]]]:
    """Each batch of source rows with the destination rows that have the same keys."""
    key = _primary_key(table)
    for rows in _batch_keys(source, table):
        keys = [row[key.name] for row in rows]
        existing = destination.execute(select(table).where(key.in_(keys)))
        yield rows, {row._mapping[key]: dict(row._mapping) for row in existing}


def _key(table: Table, row: dict[str, Any]) -> Any:
    return row[_primary_key(table).name]


def _refuse_different(table: Table, key: Any, source: dict[str, Any], destination: dict[str, Any]) -> None:
    for column in table.columns:
        if comparable(source[column.name]) != comparable(destination[column.name]):
            shown = repr(key[:40] if isinstance(key, str) else key)
            raise Conflict(
                f"the destination's table {table.name} already has a row {_primary_key(table).name}={shown} "
                f"whose {column.name} differs from the workspace being moved: move it into an empty "
                "database, or one an earlier run of this move filled"
            )


def _insert_new(session: Session, *, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert the rows whose keys the destination does not have yet (in this transaction)."""
    key = _primary_key(table)
    present = set(session.execute(select(key).where(key.in_([row[key.name] for row in rows]))).scalars())
    new = [_storable(table, row) for row in rows if row[key.name] not in present]
    if not new:
        return 0
    try:
        session.execute(table.insert(), new)
    except DatabaseIntegrityError as exc:
        raise Conflict(
            f"the destination refused rows of table {table.name} ({_first_line(exc)}): it holds other "
            "data; move the workspace into an empty database"
        ) from None
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise
        raise InvalidInput(
            f"the destination cannot store rows of table {table.name} ({_first_line(exc)})"
        ) from None
    return len(new)


def _storable(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """The row as the destination stores it: JSON documents without NaN or infinity, which PostgreSQL's
    JSON cannot hold (they become null, as shipyard's own writer makes them)."""
    return {
        column.name: _finite(row[column.name]) if _holds_json(column) else row[column.name]
        for column in table.columns
    }


def _holds_json(column: Column[Any]) -> bool:
    """Whether ``column`` stores JSON documents (shipyard's own JSON type decorates SQLAlchemy's)."""
    kind = column.type
    return isinstance(kind.impl_instance if isinstance(kind, TypeDecorator) else kind, JSON)


def comparable(value: Any) -> Any:
    """A value as both databases give it back: NaN and infinities (which SQLite stores as NULL, and JSON
    in PostgreSQL cannot hold) count as None, inside documents too."""
    return _finite(value)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
