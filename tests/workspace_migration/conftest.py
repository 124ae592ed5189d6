"""A real embedded workspace to move, and fresh destinations for it.

The source is made through shipyard's own API wherever one exists: models with versions (scikit-learn, with
reference data, so they carry contracts and profiles), aliases moved and rolled back, tags, a dataset, two
hours of served traffic in the prediction log with labels attached, the monitors run over them, users with
a token and a session, a schedule, an alert silence. The tables no quick API fills (alert states and events,
rollouts, gate, batch and retraining runs) get rows written straight into the schema's tables, with values
of every column type, NaN inside a JSON document included: the move must carry every table.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sqlalchemy import JSON

from shipyard import Registry
from shipyard.access import AccessService
from shipyard.monitoring import attach_labels
from shipyard.monitoring.series import run_monitors
from shipyard.predictions import LogWriter, PredictionLog
from shipyard.scheduling.schedules import add_schedule
from shipyard.store.alerts import AlertRepository
from shipyard.store.schema import Base
from tests.conftest import drop_postgres_schema, new_postgres_schema
from tests.served import served_record

FEATURES = ["amount", "hour", "merchant_risk"]
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class SourceWorkspace:
    """The workspace to move, and what a test checks the destination against."""

    home: Path
    frame: pd.DataFrame
    #: ``churn@production``'s predictions on ``frame``, made in the source.
    predictions: list[int]
    token: str
    logged_rows: int
    #: The audit trail's actions, oldest first.
    audit_actions: list[str]

    @property
    def database(self) -> Path:
        return self.home / "registry.db"


def transactions(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "amount": rng.lognormal(3.5, 0.8, rows),
            "hour": rng.integers(0, 24, rows).astype(float),
            "merchant_risk": rng.beta(2.0, 5.0, rows),
        }
    )
    frame["fraud"] = ((0.02 * frame["amount"] + 3 * frame["merchant_risk"]) > 1.6).astype(int)
    return frame


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_source(home: Path) -> SourceWorkspace:
    frame = transactions(300, seed=1)
    with Registry(home=home, actor="tester") as registry:
        for c in (0.5, 1.0, 2.0):
            fitted = LogisticRegression(C=c, max_iter=500).fit(frame[FEATURES], frame["fraud"])
            registry.register("churn", fitted, reference=frame[FEATURES], description=f"C={c}")
        registry.register("fraud", LogisticRegression().fit(frame[FEATURES], frame["fraud"]))
        registry.set_alias("churn", "production", 1, reason="first")
        registry.set_alias("churn", "production", 3, reason="better")
        registry.rollback("churn@production", reason="error rate up")
        registry.set_alias("churn", "staging", 3)
        registry.set_model_tag("churn", "team", "risk")
        registry.datasets.add("transactions", frame)
        logged = _serve_and_monitor(registry, frame)
        access = AccessService(registry.db, "tester")
        access.create_user("alice", "admin", "a long enough password")
        access.create_user("ci", "operator")
        token = access.issue_token("ci", "pipeline").secret
        access.open_session(access.check_password("alice", "a long enough password"))
        add_schedule(registry, "nightly", "0 2 * * *", ["score", "churn@production", "-i", "x.csv"])
        now = datetime.now(UTC)
        AlertRepository(registry.db).add_silence(
            {"model": "churn"}, now, now + HOUR, created_by="tester", comment="deploy"
        )
        predictions = registry.load_model("churn@production").predict(frame[FEATURES]).tolist()
        actions = [event.action for event in registry.audit(limit=1000)]
    _fill_empty_tables(home / "registry.db")
    return SourceWorkspace(home, frame, predictions, token, logged, actions)


def _serve_and_monitor(registry: Registry, frame: pd.DataFrame) -> int:
    """Two hours of traffic logged as a server logs it, half of it labelled, and the monitors run."""
    version = registry.resolve("churn@production")
    model = registry.load_model(version.ref)
    start = (datetime.now(UTC) - 3 * HOUR).replace(minute=0, second=0, microsecond=0)
    writer = LogWriter(registry.settings.log_url, flush_seconds=60)
    labelled: list[tuple[str, int]] = []
    for hour in range(2):
        at = start + hour * HOUR + timedelta(minutes=5)
        for first in range(0, len(frame), 50):
            rows = frame.iloc[first : first + 50].reset_index(drop=True)
            record = served_record(model, version, rows[FEATURES], at)
            writer.submit(record)
            labelled += list(zip(record.prediction_ids, rows["fraud"].tolist(), strict=True))
    writer.close()
    log = PredictionLog(registry.settings.log_url)
    attach_labels(registry, log, labelled[::2], settle_seconds=0)
    run_monitors(registry, log, [version], start, start + 2 * HOUR, HOUR)
    return 2 * len(frame)


def _fill_empty_tables(database: Path) -> None:
    """Two rows in every table still empty, each column given a value of its type (a JSON document holds
    a NaN, as a SQLite report may); foreign keys point at the parents' first row."""
    connection = sqlite3.connect(database)
    try:
        for table in Base.metadata.sorted_tables:
            if connection.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0]:
                continue
            for number in (1, 2):
                values = {column.name: _value(connection, column, number) for column in table.columns}
                names = ", ".join(f'"{name}"' for name in values)
                marks = ", ".join("?" for _ in values)
                insert = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'
                connection.execute(insert, list(values.values()))
        connection.commit()
    finally:
        connection.close()


def _value(connection: sqlite3.Connection, column: Any, number: int) -> Any:
    if column.foreign_keys:
        parent = next(iter(column.foreign_keys)).column
        return connection.execute(f'SELECT min("{parent.name}") FROM "{parent.table.name}"').fetchone()[0]
    stored = column.type.impl if hasattr(column.type, "impl") else column.type  # what a TypeDecorator stores
    if isinstance(stored, JSON):
        return json.dumps({"number": number, "nested": [1.5, None, "x"], "score": math.nan}, allow_nan=True)
    kind = stored.python_type
    if kind is bool:
        return number % 2
    if kind is int:
        return number
    if kind is float:
        return 0.25 * number
    if kind is datetime:
        return f"2026-11-0{number} 12:00:00.123456"
    return f"{column.name}-{number}"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> SourceWorkspace:
    """The workspace to move (shared by a module's tests: moving it never writes to it)."""
    return build_source(tmp_path_factory.mktemp("source") / "ws")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema for one test, dropped afterwards."""
    url, schema = new_postgres_schema()
    try:
        yield url
    finally:
        drop_postgres_schema(schema)
