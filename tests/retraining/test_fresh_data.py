"""A retraining run's fresh data: a catalog dataset cut to the window, or a real PostgreSQL or DuckDB query
with the window bound as parameters, stored as a dataset version whose lineage says where it came from."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sqlalchemy import create_engine

from shipyard import Registry
from shipyard.errors import InvalidInput, NotFound, Unavailable
from shipyard.monitoring import attach_labels
from shipyard.predictions import LogWriter, PredictionLog
from shipyard.retraining import policy_from_dict
from shipyard.retraining.fresh_data import FreshData, fresh_data
from tests.conftest import drop_postgres_schema, new_postgres_schema
from tests.predictions.conftest import record

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def events(days: int = 10) -> pd.DataFrame:
    """One row a day up to NOW, newest last."""
    return pd.DataFrame(
        {
            "ts": [NOW - timedelta(days=days - index) for index in range(days)],
            "amount": [float(index) for index in range(days)],
            "fraud": [index % 2 for index in range(days)],
        }
    )


def gather(registry: Registry, tmp_path: Path, **policy: object) -> FreshData:
    section = {"spec": "spec.toml", "window": "3d", **policy}
    log = PredictionLog(str(tmp_path / "logs"))
    return fresh_data(registry, policy_from_dict("fraud", section), log, NOW)


def test_a_dataset_is_cut_to_the_window_by_its_time_column(registry: Registry, tmp_path: Path) -> None:
    registry.datasets.add("events", events())
    fresh = gather(registry, tmp_path, data={"source": "dataset", "name": "events", "time_column": "ts"})
    frame = registry.datasets.load(fresh.dataset)
    assert frame["amount"].tolist() == [7.0, 8.0, 9.0]  # 3, 2 and 1 days back; NOW itself is outside
    assert fresh.dataset.name == "fraud-retrain" and fresh.exclude == ()
    lineage = fresh.dataset.notes["lineage"]
    assert (lineage["source"], lineage["dataset"], lineage["rows_outside"]) == ("dataset", "events/1", 7)
    assert lineage["window"] == {"start": "2026-12-03T12:00:00+00:00", "end": "2026-12-06T12:00:00+00:00"}
    again = gather(registry, tmp_path, data={"source": "dataset", "name": "events", "time_column": "ts"})
    assert again.dataset.ref == fresh.dataset.ref  # the same rows: the same version


def test_a_dataset_without_a_time_column_is_taken_whole_and_a_wrong_one_is_named(
    registry: Registry, tmp_path: Path
) -> None:
    registry.datasets.add("events", events())
    whole = gather(registry, tmp_path, data={"source": "dataset", "name": "events"})
    assert len(registry.datasets.load(whole.dataset)) == 10
    with pytest.raises(InvalidInput, match="dataset events/1 has no column 'when'"):
        gather(registry, tmp_path, data={"source": "dataset", "name": "events", "time_column": "when"})
    with pytest.raises(NotFound, match="events"):
        gather(registry, tmp_path, data={"source": "dataset", "name": "evnts"})


def test_an_empty_window_stops_before_anything_is_stored(registry: Registry, tmp_path: Path) -> None:
    registry.datasets.add("events", events().assign(ts=NOW - timedelta(days=30)))
    with pytest.raises(InvalidInput, match=r"fresh data of fraud is empty \(events/1 from 2026-12-03"):
        gather(registry, tmp_path, data={"source": "dataset", "name": "events", "time_column": "ts"})
    assert [version.name for version in registry.datasets.list()] == ["events"]


@pytest.fixture
def postgres_events() -> Iterator[str]:
    url, schema = new_postgres_schema()
    engine = create_engine(url)
    events().to_sql("events", engine, index=False)
    engine.dispose()
    try:
        yield url
    finally:
        drop_postgres_schema(schema)


@pytest.mark.postgres
def test_a_postgresql_query_binds_the_window(
    registry: Registry, tmp_path: Path, postgres_events: str
) -> None:
    query = "select amount, fraud from events where ts >= :start and ts < :end order by ts"
    fresh = gather(registry, tmp_path, data={"source": "sql", "url": postgres_events, "query": query})
    assert registry.datasets.load(fresh.dataset)["amount"].tolist() == [7.0, 8.0, 9.0]
    assert fresh.dataset.notes["lineage"]["database"].startswith("postgresql")
    with pytest.raises(InvalidInput, match="the data query failed on postgresql.*nothing_here"):
        missing = {"source": "sql", "url": postgres_events, "query": "select * from nothing_here"}
        gather(registry, tmp_path, data=missing)


def test_an_unreachable_database_is_named(registry: Registry, tmp_path: Path) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    with pytest.raises(Unavailable, match="the data source postgresql.*127.0.0.1:1.* is unreachable"):
        gather(registry, tmp_path, data={"source": "sql", "url": url, "query": "select 1"})


def test_a_duckdb_query_binds_the_window(registry: Registry, tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "lake.db"
    with duckdb.connect(str(path)) as connection:
        frame = events().assign(ts=lambda f: f["ts"].dt.tz_localize(None))  # DuckDB's TIMESTAMP has no zone
        connection.register("frame", frame)
        connection.execute("create table events as select * from frame")
    query = "select amount, fraud from events where ts >= :start and ts < :end order by ts"
    fresh = gather(registry, tmp_path, data={"source": "sql", "url": f"duckdb:///{path}", "query": query})
    assert registry.datasets.load(fresh.dataset)["amount"].tolist() == [7.0, 8.0, 9.0]
    with pytest.raises(Unavailable, match="cannot be opened"):
        nowhere = {"source": "sql", "url": f"duckdb:///{tmp_path}/no/lake.db", "query": query}
        gather(registry, tmp_path, data=nowhere)


def test_the_prediction_log_with_its_labels_is_a_source_and_its_bookkeeping_is_kept_out(
    registry: Registry,
) -> None:
    features = np.random.default_rng(0).normal(size=(40, 3))
    registry.register("fraud", LogisticRegression().fit(features, np.arange(40) % 2))
    writer = LogWriter(registry.settings.log_url, flush_seconds=60)
    answered = record(4, at=NOW - timedelta(hours=2), seed=1)
    writer.submit(answered)
    writer.close()
    log = PredictionLog(registry.settings.log_url)
    labels = [(identifier, index % 2) for index, identifier in enumerate(answered.prediction_ids[:3])]
    attach_labels(registry, log, labels, settle_seconds=0)
    policy = policy_from_dict("fraud", {"spec": "spec.toml", "window": "1d", "data": {"source": "log"}})
    fresh = fresh_data(registry, policy, log, NOW)
    frame = registry.datasets.load(fresh.dataset)
    assert len(frame) == 3 and frame["label"].tolist() == [0, 1, 0]
    bookkeeping = {"prediction_id", "timestamp", "version", "_prediction"}
    assert set(fresh.exclude) == bookkeeping and bookkeeping <= set(frame.columns)
    assert fresh.dataset.notes["lineage"]["source"] == "prediction-log"
