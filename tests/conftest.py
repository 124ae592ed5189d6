"""Shared fixtures: isolated workspaces, and the registry on SQLite and on PostgreSQL.

PostgreSQL tests read the server URL from SHIPYARD_TEST_POSTGRES_URL. Each test gets its own schema on that
server (dropped afterwards), so tests run in parallel without seeing each other. In CI (CI=true) a missing
URL is a failure, never a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from shipyard import Registry
from tests.receivers import WebhookReceiver, webhook_receiver

POSTGRES_ENV = "SHIPYARD_TEST_POSTGRES_URL"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never see the developer's SHIPYARD_* settings nor an enclosing .shipyard folder."""
    for name in list(os.environ):
        if name.startswith("SHIPYARD_") and name != POSTGRES_ENV:
            monkeypatch.delenv(name)
    monkeypatch.setenv("SHIPYARD_ACTOR", "tester")


def postgres_server_url() -> str:
    raw = os.environ.get(POSTGRES_ENV)
    if not raw:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_ENV} is not set; CI must run the PostgreSQL tests")
        pytest.skip(f"set {POSTGRES_ENV} to run the PostgreSQL half of the suite")
    url = make_url(raw)
    if url.drivername in {"postgresql", "postgres"}:
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def new_postgres_schema() -> tuple[str, str]:
    """Create an empty schema; return (registry URL whose search_path is that schema, schema name)."""
    import psycopg

    server = make_url(postgres_server_url())
    schema = f"t_{uuid.uuid4().hex[:16]}"
    conninfo = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    url = server.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


def drop_postgres_schema(schema: str) -> None:
    import psycopg

    server = make_url(postgres_server_url()).set(drivername="postgresql")
    with psycopg.connect(server.render_as_string(hide_password=False), autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty registry database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    url, schema = new_postgres_schema()
    try:
        yield url
    finally:
        drop_postgres_schema(schema)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    home = tmp_path / "ws"
    home.mkdir()
    return home


@pytest.fixture
def registry(workspace: Path, registry_url: str) -> Iterator[Registry]:
    """A registry on a fresh database (SQLite and PostgreSQL) with a local artifact store."""
    with Registry(home=workspace, registry_url=registry_url) as opened:
        yield opened


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    """A real HTTP server on 127.0.0.1 recording every POST (alert channels' webhooks)."""
    with webhook_receiver() as receiver:
        yield receiver
