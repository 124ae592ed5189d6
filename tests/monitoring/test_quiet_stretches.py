"""A run of windows without data is stored as one record (a quiet stretch), and every reader sees each of
its windows as if it had been stored alone: the reports, the series, the newest points, which versions have
a figure, an alert's newest value and its means. Computing part of a stretch again keeps the rest.
On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from sklearn.linear_model import LogisticRegression
from sqlalchemy import func, select

from shipyard import Registry
from shipyard.monitoring.series import latest_points, save_window, save_windows, series, stored_windows
from shipyard.monitoring.windows import WindowResult, empty_window
from shipyard.store.monitor_series import MAX_STRETCH_WINDOWS, MonitorSeriesRepository
from shipyard.store.schema import ModelRow, MonitorWindowRow

HOUR = timedelta(hours=1)
START = datetime(2026, 3, 1, tzinfo=UTC)


def _results(registry: Registry, model: str, busy: dict[int, int], hours: int) -> list[WindowResult]:
    """``hours`` hourly windows of ``model``/1, those in ``busy`` with that many rows, the rest empty."""
    version = registry.resolve(f"{model}/1")
    results = []
    for hour in range(hours):
        start = START + hour * HOUR
        rows = busy.get(hour)
        if rows is None:
            results.append(empty_window(version, start, start + HOUR))
        else:
            result = WindowResult(model, 1, start, start + HOUR, rows=rows, requests=rows)
            result.health = {"request_rate": rows / 3600, "latency_p99_ms": 4.0 + hour}
            results.append(result)
    return results


def _register(registry: Registry, *names: str) -> None:
    features = np.random.default_rng(0).normal(size=(30, 2))
    for name in names:
        registry.register(name, LogisticRegression().fit(features, np.arange(30) % 2))


def _records(registry: Registry, model: str) -> int:
    """How many records hold the model's stored windows."""
    with registry.db.reading() as session:
        query = (
            select(func.count())
            .select_from(MonitorWindowRow)
            .join(ModelRow, ModelRow.id == MonitorWindowRow.model_id)
            .where(ModelRow.name == model)
        )
        return int(session.execute(query).scalar_one())


def _reads(registry: Registry, model: str, until: datetime) -> dict[str, object]:
    """Everything the readers say about ``model``, its name taken out so two models compare."""
    repository = MonitorSeriesRepository(registry.db)
    windows = stored_windows(registry, model, HOUR)
    some = stored_windows(registry, model, HOUR, start=START + 30 * HOUR + HOUR / 2, end=START + 90 * HOUR)
    newest = repository.newest_figure(model, 1, "rows", 3600, until=until, means_over=timedelta(days=2))
    return {
        "windows": [(w.start, w.end, _anonymous(w.report, model)) for w in windows],
        "some": [(w.start, w.end) for w in some],
        "last": [(w.start, w.version) for w in stored_windows(registry, model, HOUR, last=5)],
        "rows": series(registry, model, "rows", HOUR),
        "rate": series(registry, model, "health.request_rate", HOUR, start=START + 100 * HOUR),
        "latest": latest_points(registry, model, HOUR),
        "versions": {
            version
            for _, version in repository.versions_with_figure(
                "rows", 3600, after=until - 2 * HOUR, until=until, model=model
            )
        },
        "newest": None if newest is None else (newest.window_start, newest.values, newest.means),
    }


def _anonymous(report: dict[str, object], model: str) -> dict[str, object]:
    notes = [str(note).replace(model, "") for note in report["notes"]]  # type: ignore[attr-defined]
    return {**report, "model": "", "notes": notes}


def test_a_quiet_stretch_reads_as_its_windows_stored_one_at_a_time(registry: Registry) -> None:
    _register(registry, "alone", "joined")
    busy = {3: 40, 150: 7, 151: 9, 400: 12}
    for result in _results(registry, "alone", busy, 500):
        save_window(registry, result, HOUR)
    save_windows(registry, _results(registry, "joined", busy, 500), HOUR)

    assert _records(registry, "alone") == 500
    # Quiet stretches of at most MAX_STRETCH_WINDOWS windows: [0,3) 3 [4,150) 150 151 [152,352) [352,400)
    # 400 [401,500).
    assert _records(registry, "joined") == 9
    for until in (START + 499 * HOUR, START + 250 * HOUR + HOUR / 3, START + 151 * HOUR, START + 60 * HOUR):
        assert _reads(registry, "joined", until) == _reads(registry, "alone", until)
    windows = stored_windows(registry, "joined", HOUR)
    assert [w.start for w in windows] == [START + hour * HOUR for hour in range(500)]
    assert windows[77].report["start"] == (START + 77 * HOUR).isoformat() and windows[77].report["no_data"]


def test_computing_part_of_a_stretch_again_keeps_the_rest(registry: Registry) -> None:
    _register(registry, "fraud")
    save_windows(registry, _results(registry, "fraud", {}, 100), HOUR)
    assert _records(registry, "fraud") == 1

    # Late rows turned up in hours 40 and 41: those two windows are computed again, alone.
    save_windows(registry, _results(registry, "fraud", {40: 5, 41: 6}, 100)[40:42], HOUR)
    windows = stored_windows(registry, "fraud", HOUR)
    assert [w.start for w in windows] == [START + hour * HOUR for hour in range(100)]
    assert [w.report["rows"] for w in windows[39:43]] == [0, 5, 6, 0]
    assert all(w.report["no_data"] for w in windows[:40] + windows[42:])
    assert [w.report["start"] for w in windows[41:43]] == [(START + h * HOUR).isoformat() for h in (41, 42)]
    assert _records(registry, "fraud") == 4
    assert [value for _, _, value in series(registry, "fraud", "rows", HOUR)] == [0.0] * 40 + [5.0, 6.0] + [
        0.0
    ] * 58

    # And quiet again: the whole range stored at once is one stretch once more.
    save_windows(registry, _results(registry, "fraud", {}, 100), HOUR)
    assert _records(registry, "fraud") == 1 and len(stored_windows(registry, "fraud", HOUR)) == 100


def test_a_stretch_holds_at_most_its_limit_of_windows(registry: Registry) -> None:
    _register(registry, "fraud")
    save_windows(registry, _results(registry, "fraud", {}, 2 * MAX_STRETCH_WINDOWS + 1), HOUR)
    assert _records(registry, "fraud") == 3
    assert len(stored_windows(registry, "fraud", HOUR)) == 2 * MAX_STRETCH_WINDOWS + 1


def test_the_newest_windows_of_two_versions_include_a_quiet_stretchs_newest(registry: Registry) -> None:
    """Version 1 quiet for 100 hours (one record), version 2 busy in the last 10 (ten records): the newest
    windows interleave both versions, as if every window had been stored alone."""
    _register(registry, "fraud")
    _register(registry, "fraud")
    save_windows(registry, _results(registry, "fraud", {}, 100), HOUR)
    busy = []
    for hour in range(90, 100):
        start = START + hour * HOUR
        busy.append(WindowResult("fraud", 2, start, start + HOUR, rows=5, requests=5))
    save_windows(registry, busy, HOUR)
    newest = [(w.start, w.version) for w in stored_windows(registry, "fraud", HOUR, last=4)]
    assert newest == [
        (START + 98 * HOUR, 1),
        (START + 98 * HOUR, 2),
        (START + 99 * HOUR, 1),
        (START + 99 * HOUR, 2),
    ]
