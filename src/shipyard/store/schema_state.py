"""The metadata database's schema revision, read without migrating it.

Opening a ``Database`` applies migrations, which is right for every command that uses the registry and wrong
for one that only looks: ``shipyard doctor`` must report a database at an old revision, not quietly upgrade
it. ``read_schema_state`` connects, reads ``alembic_version`` and disconnects; it creates nothing (a SQLite
file that is not there is reported, never made).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from shipyard.errors import ConfigurationError, MissingDependency, NotFound, Unavailable
from shipyard.store.database import CONNECT_TIMEOUT, HEAD_REVISION


@dataclass(frozen=True)
class SchemaState:
    """Where a database's schema stands against this shipyard's migrations."""

    #: The revision recorded in the database; None when it holds no shipyard schema at all.
    revision: str | None
    #: The revision this shipyard's code expects.
    head: str
    #: The recorded revision is one of this shipyard's migrations (False: a newer shipyard wrote it).
    known: bool

    @property
    def at_head(self) -> bool:
        return self.revision == self.head


def read_schema_state(url: str) -> SchemaState:
    """The schema revision of the database at ``url``, read-only.

    Raises ``NotFound`` for a SQLite file that does not exist, ``Unavailable`` for a database that cannot be
    reached (the message names it and why), ``ConfigurationError`` for a URL shipyard cannot use.
    """
    parsed = _parse(url)
    shown = parsed.render_as_string(hide_password=True)
    connect_args: dict[str, object] = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not Path(database).is_file():
            raise NotFound(f"there is no SQLite database at {database}")
    elif "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
    try:
        engine = create_engine(parsed, connect_args=connect_args)
    except ModuleNotFoundError as exc:
        raise MissingDependency("psycopg", "postgres", "a PostgreSQL registry") from exc
    try:
        with engine.connect() as connection:
            revision = None
            if inspect(connection).has_table("alembic_version"):
                revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
        raise Unavailable(f"the metadata database {shown} is unreachable ({reason})") from None
    finally:
        engine.dispose()
    return SchemaState(revision, HEAD_REVISION, revision is None or revision in known_revisions())


def display_url(url: str) -> str:
    """``url`` with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def known_revisions() -> frozenset[str]:
    """Every schema revision this shipyard has a migration for."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(resources.files("shipyard.store") / "migrations"))
    return frozenset(revision.revision for revision in ScriptDirectory.from_config(config).walk_revisions())


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(f"registry URL {url!r} is not a database URL: {exc}") from None
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ConfigurationError(
            f"registry URL uses {parsed.get_backend_name()!r}; shipyard supports sqlite:/// and "
            "postgresql+psycopg://"
        )
    return parsed
