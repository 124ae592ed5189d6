"""The metadata database: migrations, version checks, and locked SQLite files."""

from __future__ import annotations

import sqlite3
import threading
import time
from importlib import resources
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from shipyard import ConfigurationError, Registry
from shipyard.store.database import HEAD_REVISION, Database
from shipyard.store.schema import Base
from tests.models import tiny_classifier


def test_migrations_create_exactly_the_declared_schema(registry_url: str) -> None:
    database = Database(registry_url)
    try:
        assert database.current_revision() == HEAD_REVISION
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        database.dispose()


def test_database_from_a_newer_shipyard_is_refused(registry_url: str) -> None:
    database = Database(registry_url)
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    database.dispose()
    with pytest.raises(ConfigurationError, match="newer shipyard.*upgrade shipyard"):
        Database(registry_url)


def test_unsupported_database_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="mysql"):
        Database("mysql://localhost/x")
    with pytest.raises(ConfigurationError, match="not a database URL"):
        Database("nonsense")


def test_sqlite_uses_write_ahead_logging(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'r.db'}")
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    database.dispose()


def test_busy_sqlite_file_is_retried_not_a_crash(workspace: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with Registry(home=workspace, registry_url=url, busy_timeout=0.05) as registry:
        holder = sqlite3.connect(tmp_path / "r.db", isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock

        def release() -> None:
            time.sleep(0.8)
            holder.execute("COMMIT")

        releaser = threading.Thread(target=release)
        started = time.monotonic()
        releaser.start()
        version = registry.register("fraud", tiny_classifier())
        releaser.join()
        holder.close()
        assert version.version == 1
        assert time.monotonic() - started >= 0.7


def test_opening_an_older_database_migrates_it_and_keeps_its_data(workspace: Path, registry_url: str) -> None:
    engine = create_engine(registry_url)  # a bare engine: no automatic migration to head
    config = Config()
    config.set_main_option("script_location", str(resources.files("shipyard.store") / "migrations"))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001_registry")
        connection.commit()
        connection.execute(
            text(
                "INSERT INTO models "
                "(name, description, tags, last_version, created_at, created_by, updated_at) VALUES "
                "('legacy', 'from 0001', '{}', 0, '2026-01-01 00:00:00', 'old', '2026-01-01 00:00:00')"
            )
        )
        connection.commit()
    engine.dispose()

    with Registry(home=workspace, registry_url=registry_url) as registry:
        assert registry.db.current_revision() == HEAD_REVISION
        assert registry.get_model("legacy").description == "from 0001"
        version = registry.register("legacy", tiny_classifier())
        assert version.version == 1 and version.profile is None


@pytest.mark.postgres
def test_a_serialization_failure_is_retried_not_taken_for_an_unreachable_database() -> None:
    """PostgreSQL reports a serialization failure as an OperationalError, as it does a lost connection:
    the write is retried (it is transient), never answered as "the database is unreachable"."""
    from tests.conftest import drop_postgres_schema, new_postgres_schema

    url, schema = new_postgres_schema()
    database = Database(url)
    attempts: list[int] = []

    def work(session: Session) -> int:
        attempts.append(1)
        if len(attempts) == 1:  # a real error from the server, with SQLSTATE 40001
            session.execute(text("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40001'; END $$"))
        return len(attempts)

    try:
        assert database.write(work) == 2
    finally:
        database.dispose()
        drop_postgres_schema(schema)
