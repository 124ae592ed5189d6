"""Reading stored window reports back (their JSON decoded with orjson) on SQLite and PostgreSQL: the same
reports, the same order and filters; a NaN is stored as null, and a SQLite report an older shipyard wrote
with a bare NaN still reads."""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from shipyard import Registry
from shipyard.store.monitor_series import MonitorSeriesRepository, WindowToSave

HOUR = timedelta(hours=1)
START = datetime(2026, 11, 25, 10, tzinfo=UTC)


def _registered(registry: Registry) -> MonitorSeriesRepository:
    features = np.random.default_rng(0).normal(size=(30, 2))
    registry.register("fraud", LogisticRegression().fit(features, np.arange(30) % 2))
    return MonitorSeriesRepository(registry.db)


def _save(repository: MonitorSeriesRepository, version: int, hour: int, report: dict[str, object]) -> None:
    start = START + hour * HOUR
    saved = repository.save_window(
        model="fraud",
        version=version,
        window_seconds=3600,
        start=start,
        end=start + HOUR,
        report=report,
        figures=[("rows", "", 1.0)],
        computed_at=start + HOUR,
    )
    assert saved


def test_reports_read_back_whole_in_order_with_their_filters(registry: Registry) -> None:
    repository = _registered(registry)
    report = {
        "rows": 10,
        "sampled": False,
        "drift": {"columns": [{"column": "montant é", "p_value": 0.031, "scores": {"psi": 0.2}}]},
        "accuracy": {"roc_auc": None},
        "notes": ["<b>text</b> & more"],
        "big": 2**53 + 1,
    }
    for hour in (2, 0, 1):
        _save(repository, 1, hour, {**report, "hour": hour})
    _save(repository, 2, 1, {**report, "hour": 1, "version": 2})

    stored = repository.windows("fraud", 3600)
    assert [(window.start, window.version) for window in stored] == [
        (START, 1),
        (START + HOUR, 1),
        (START + HOUR, 2),
        (START + 2 * HOUR, 1),
    ]
    assert stored[0].report == {**report, "hour": 0} and stored[0].end == START + HOUR
    assert stored[0].start.tzinfo is not None
    assert [w.report["hour"] for w in repository.windows("fraud", 3600, version=1, last=2)] == [1, 2]
    newest = repository.windows("fraud", 3600, last=3)  # ties on the start: the lower version first
    assert [(w.version, w.report["hour"]) for w in newest] == [(1, 1), (2, 1), (1, 2)]
    before = repository.windows("fraud", 3600, end=START + 2 * HOUR, last=2)
    assert [(w.version, w.report["hour"]) for w in before] == [(1, 1), (2, 1)]
    middle = repository.windows("fraud", 3600, start=START + HOUR, end=START + 2 * HOUR)
    assert [(w.version, w.report["hour"]) for w in middle] == [(1, 1), (2, 1)]
    assert repository.windows("fraud", 60) == [] and repository.windows("nope", 3600) == []


def test_a_report_holding_nan_saves_it_as_null(registry: Registry) -> None:
    """PostgreSQL's JSON has no NaN: a report holding one is stored with null there and in SQLite alike."""
    repository = _registered(registry)
    _save(repository, 1, 0, {"health": {"latency_p99_ms": float("nan"), "cpu_percent": 3.0}})
    (window,) = repository.windows("fraud", 3600)
    assert window.report["health"] == {"latency_p99_ms": None, "cpu_percent": 3.0}


def test_a_sqlite_report_an_older_shipyard_wrote_with_nan_still_reads(workspace: Path) -> None:
    """SQLite only: shipyard once wrote reports with the standard encoder, which writes NaN as a bare word."""
    with Registry(home=workspace) as registry:
        repository = _registered(registry)
        _save(repository, 1, 0, {"health": {"latency_p99_ms": 1.0, "cpu_percent": 3.0}})
        database = registry.settings.registry_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as connection:
        connection.execute(
            "UPDATE monitor_windows SET report = ?",
            ('{"health": {"latency_p99_ms": NaN, "cpu_percent": 3.0}}',),
        )
    with Registry(home=workspace) as registry:
        (window,) = MonitorSeriesRepository(registry.db).windows("fraud", 3600)
    assert math.isnan(window.report["health"]["latency_p99_ms"])
    assert window.report["health"]["cpu_percent"] == 3.0


def test_a_batch_of_windows_is_saved_each_with_its_own_figures_and_saved_again_in_place(
    registry: Registry,
) -> None:
    repository = _registered(registry)

    def batch(hours: range, offset: float) -> None:
        windows = [
            WindowToSave(START + h * HOUR, START + (h + 1) * HOUR, {"hour": h}, [("rows", "", h + offset)])
            for h in hours
        ]
        assert repository.save_windows(
            model="fraud", version=1, window_seconds=3600, windows=windows, computed_at=START
        )

    batch(range(0, 300), 0.0)
    batch(range(250, 260), 0.5)  # again, in place: each window keeps one report and one figure
    stored = repository.windows("fraud", 3600)
    assert len(stored) == 300 and [w.report["hour"] for w in stored] == list(range(300))
    rows = repository.series("fraud", "rows", 3600)
    assert [value for _, _, value in rows] == [h + (0.5 if 250 <= h < 260 else 0.0) for h in range(300)]
    # Each figure is found again by its window's start, as alerts look it up.
    newest = repository.newest_figure("fraud", 1, "rows", 3600, until=START + 255 * HOUR)
    assert newest is not None and newest.values == [("", 255.5)] and newest.window_start == START + 255 * HOUR
    assert repository.save_windows(
        model="nope", version=1, window_seconds=3600, windows=[], computed_at=START
    )
    assert not repository.save_windows(
        model="nope",
        version=1,
        window_seconds=3600,
        windows=[WindowToSave(START, START, {}, [])],
        computed_at=START,
    )
