"""The metadata database: engine set-up, transactions with retry, and migrations applied on open.

SQLite is the zero-setup default; PostgreSQL is the same schema behind another URL. Two decisions matter:

* SQLite runs in WAL mode (readers never block the writer) and every write transaction starts with
  ``BEGIN IMMEDIATE``: it takes the write lock up front, so two writers queue on ``busy_timeout`` instead of
  deadlocking halfway through. Anything still reported as busy is retried with backoff, never surfaced.
* A database that cannot be reached (PostgreSQL down, the network cut) raises ``Unavailable`` naming it,
  with a retry hint, never a driver error: the server answers 503 with Retry-After, keeps predicting with the
  models it has loaded, and the next request after the database returns simply works (``pool_pre_ping``
  replaces the dead pooled connections; a connection attempt gives up after ``CONNECT_TIMEOUT`` seconds).
* Migrations run on open, under a lock (a file lock beside the SQLite file, an advisory lock on PostgreSQL)
  so several processes opening a new workspace at once create the schema exactly once. A database migrated
  by a newer shipyard is refused with a message, never written to.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import random
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from shipyard.errors import ConfigurationError, MissingDependency, Unavailable

T = TypeVar("T")

HEAD_REVISION = "0012_access"
_MIGRATION_LOCK_KEY = 0x5D1B_A4D  # advisory lock id on PostgreSQL: "shipyard migrations"
_RETRIES = 12
#: Seconds a new PostgreSQL connection may take before the database counts as unreachable.
CONNECT_TIMEOUT = 5
#: Seconds a client is told to wait (Retry-After) when the database is unreachable.
RETRY_AFTER = 5.0


class Database:
    """A metadata database behind a SQLAlchemy URL, migrated to the code's schema when opened."""

    def __init__(self, url: str, *, busy_timeout: float = 30.0) -> None:
        try:
            self.url: URL = make_url(url)
        except ArgumentError as exc:
            raise ConfigurationError(f"registry URL {url!r} is not a database URL: {exc}") from None
        self.dialect = self.url.get_backend_name()
        if self.dialect not in {"sqlite", "postgresql"}:
            raise ConfigurationError(
                f"registry URL uses {self.dialect!r}; shipyard supports sqlite:/// and postgresql+psycopg://"
            )
        self._busy_timeout = busy_timeout
        self.engine = self._create_engine()
        # SQLite: writes need BEGIN IMMEDIATE, reads plain BEGIN. Both share one pool of connections.
        self._write_engine = self.engine.execution_options(shipyard_write=True)
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)
        self.migrate()

    # -- engine -----------------------------------------------------------------------------------------
    def _create_engine(self) -> Engine:
        if self.dialect == "sqlite":
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(
                self.url, connect_args={"timeout": self._busy_timeout}, json_serializer=json_text
            )
            busy_ms = int(self._busy_timeout * 1000)

            @event.listens_for(engine, "connect")
            def _configure(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
                cursor = dbapi_connection.cursor()
                cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
                cursor.execute("PRAGMA foreign_keys = ON")
                cursor.close()

            @event.listens_for(engine, "begin")
            def _begin(connection: Connection) -> None:
                write = connection.get_execution_options().get("shipyard_write", False)
                connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

            return engine
        # A host that drops packets must not hold a request for minutes: connecting gives up after a while.
        connect_args = {} if "connect_timeout" in self.url.query else {"connect_timeout": CONNECT_TIMEOUT}
        try:
            return create_engine(
                self.url,
                pool_pre_ping=True,
                pool_size=5,
                max_overflow=10,
                connect_args=connect_args,
                json_serializer=json_text,
            )
        except ModuleNotFoundError as exc:
            raise MissingDependency("psycopg", "postgres", "a PostgreSQL registry") from exc

    def dispose(self) -> None:
        """Close every pooled connection (call before forking, or when done)."""
        self.engine.dispose()

    def describe(self) -> str:
        """The URL with any password hidden, for messages and ``shipyard config``."""
        return self.url.render_as_string(hide_password=True)

    # -- transactions -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session (rolled back at the end)."""
        with self._unavailable_when_unreachable(), self._read_sessions() as session:
            try:
                yield session
            finally:
                session.rollback()

    def write(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one write transaction and commit it; retry the whole unit when the database
        reports a transient conflict (SQLite busy, PostgreSQL serialization failure or deadlock)."""
        for attempt in range(_RETRIES):
            try:
                with self._unavailable_when_unreachable(), self._write_sessions() as session, session.begin():
                    return work(session)
            except DBAPIError as exc:  # OperationalError included
                if not _transient(exc) or attempt == _RETRIES - 1:
                    raise
            time.sleep(min(0.5, 0.005 * 2**attempt) * (0.5 + random.random()))
        raise AssertionError("unreachable")  # pragma: no cover

    @contextlib.contextmanager
    def _unavailable_when_unreachable(self) -> Iterator[None]:
        """Turn "the database cannot be reached" into ``Unavailable``; other database errors pass through.

        A transaction cut off this way committed nothing (the database rolls back what it did not commit),
        so the caller may simply retry the whole unit later.
        """
        try:
            yield
        except DBAPIError as exc:
            if not self._unreachable(exc):
                raise
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
            raise Unavailable(
                f"the metadata database {self.describe()} is unreachable ({reason}); "
                f"retry in {RETRY_AFTER:g} s",
                retry_after=RETRY_AFTER,
            ) from exc

    def _unreachable(self, exc: DBAPIError) -> bool:
        if exc.connection_invalidated:
            return True
        # psycopg raises OperationalError for connections refused, reset or timed out, but also for a
        # serialization failure or a deadlock, which ``writing`` retries; SQLite uses it for ordinary
        # mistakes too (no such table), so only a lost connection counts there.
        return self.dialect == "postgresql" and isinstance(exc, OperationalError) and not _transient(exc)

    # -- migrations -------------------------------------------------------------------------------------
    def current_revision(self) -> str | None:
        """The schema revision recorded in the database, or None for an empty database."""
        with self.engine.connect() as connection:
            return _revision(connection)

    def migrate(self) -> None:
        """Bring the schema up to this code's head revision; refuse a database from a newer shipyard."""
        try:
            current = self.current_revision()
        except OperationalError as exc:
            raise ConfigurationError(
                f"cannot open the registry database {self.describe()}: {exc.orig}"
            ) from None
        if current == HEAD_REVISION:
            return
        with self._migration_lock():
            self._upgrade_locked()

    def _upgrade_locked(self) -> None:
        from alembic import command
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(resources.files("shipyard.store") / "migrations"))
        known = {rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()}
        with self.engine.connect() as connection:
            current = _revision(connection)
            if current is not None and current not in known:
                raise ConfigurationError(
                    f"the registry database {self.describe()} was migrated by a newer shipyard "
                    f"(schema revision {current!r}); upgrade shipyard (pip install -U shipyard) to open it"
                )
            if current == HEAD_REVISION:
                return
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        if self.dialect == "postgresql":
            with self.engine.connect() as connection:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
                try:
                    yield
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK_KEY})
                    connection.commit()
            return
        database = self.url.database
        if not database or database == ":memory:":
            yield
            return
        with open(f"{database}.migrate.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        connection.rollback()
        return None
    revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    connection.rollback()
    return revision


def _transient(exc: DBAPIError) -> bool:
    message = str(exc.orig).lower()
    if "database is locked" in message or "database is busy" in message:
        return True
    code = getattr(exc.orig, "sqlstate", None)
    return code in {"40001", "40P01"}  # serialization_failure, deadlock_detected


def json_text(document: Any) -> str:
    """A JSON column's text: orjson, several times faster than the standard encoder on the large documents
    (monitoring reports) stored here; a NaN or infinity becomes null, which PostgreSQL's JSON accepts. A
    value orjson cannot write (an integer beyond 64 bits, a set) takes the standard encoder, as before."""
    try:
        return orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()
    except orjson.JSONEncodeError:
        return json.dumps(document)
