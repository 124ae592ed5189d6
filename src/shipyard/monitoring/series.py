"""Monitoring results as a time series in the metadata database, and running monitors over a time range.

Each window is stored twice: its whole report (``monitor_windows``, JSON, what ``shipyard monitor show``
and the reports read), and its figures one per row (``monitor_points``: metric, column, value), the series
that alerts and dashboards query. Computing a window again replaces what was stored for it, so re-running
``shipyard monitor run`` over a range is safe.

Metric names: ``rows``, ``requests``, ``estimated_requests``, ``failed_requests`` and per kind
``failures.<kind>`` (``failures.rejected``, ``failures.timeout``, …), ``labelled_rows``; ``drift.share`` and
``drift.dataset`` (1 when the dataset drifts); per feature ``drift.score``, ``drift.drifted`` and every score
as ``drift.<name>`` (``drift.psi``, ``drift.wasserstein``, …); the same under ``output_drift.`` for the
outputs; ``quality.<figure>`` per feature; ``accuracy.<metric>``; ``health.<figure>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from shipyard.durations import duration_label, parse_duration
from shipyard.errors import InvalidInput, NotFound
from shipyard.monitoring.windows import WindowResult, monitor_window
from shipyard.predictions import PredictionLog
from shipyard.registry import ModelVersion, Registry
from shipyard.stats.drift import DatasetDrift, DriftOptions
from shipyard.store.schema import ModelRow, MonitorPointRow, MonitorWindowRow
from shipyard.store.sequences import select_named


def parse_window(text: str) -> timedelta:
    """``"15m"``, ``"1h"``, ``"1d"`` as a duration (at least a minute)."""
    return parse_duration(text, what="a window", minimum=timedelta(minutes=1))


def window_label(window: timedelta) -> str:
    """The shortest text ``parse_window`` reads back: ``1h``, ``15m``, ``1d``."""
    return duration_label(window)


def window_starts(start: datetime, end: datetime, window: timedelta) -> Iterator[datetime]:
    """Starts of the windows covering ``[start, end)``, aligned to multiples of ``window`` since the epoch."""
    moment = window_start_of(start, window)
    while moment < end:
        yield moment
        moment += window


def window_start_of(moment: datetime, window: timedelta) -> datetime:
    """The start of the window ``moment`` falls in."""
    size = int(window.total_seconds())
    return datetime.fromtimestamp(int(moment.timestamp()) // size * size, tz=UTC)


@dataclass(frozen=True)
class StoredWindow:
    version: int
    start: datetime
    end: datetime
    report: dict[str, Any]


def run_monitors(
    registry: Registry,
    log: PredictionLog,
    versions: list[ModelVersion],
    start: datetime,
    end: datetime,
    window: timedelta,
    options: DriftOptions | None = None,
) -> list[WindowResult]:
    """Monitor every window of ``[start, end)`` for each version, store each, and return them."""
    if end <= start:
        raise InvalidInput(f"--from must come before --to; got {start.isoformat()} and {end.isoformat()}")
    results = []
    for version in versions:
        for moment in window_starts(start, end, window):
            result = monitor_window(registry, log, version, moment, moment + window, options)
            save_window(registry, result, window)
            results.append(result)
    return results


def logged_versions(registry: Registry, log: PredictionLog, reference: str) -> list[ModelVersion]:
    """The versions a reference stands for: ``fraud/3`` that one; ``fraud`` or ``fraud@alias`` every version
    of the model with logged predictions, the one the reference resolves to first."""
    resolved = registry.resolve(reference)
    if "/" in reference:
        return [resolved]
    others = [number for number in log.store.versions(resolved.model) if number != resolved.version]
    return [resolved, *(registry.resolve(f"{resolved.model}/{number}") for number in others)]


def save_window(registry: Registry, result: WindowResult, window: timedelta) -> None:
    seconds = int(window.total_seconds())
    report = result.to_dict()
    figures = list(_figures(result))

    def work(session: Any) -> None:
        model = select_named(session, ModelRow, result.model)
        if model is None:
            raise NotFound(f"model {result.model!r} is not registered")
        session.execute(
            delete(MonitorWindowRow).where(
                MonitorWindowRow.model_id == model.id,
                MonitorWindowRow.version == result.version,
                MonitorWindowRow.window_seconds == seconds,
                MonitorWindowRow.window_start == result.start,
            )
        )
        row = MonitorWindowRow(
            model_id=model.id,
            version=result.version,
            window_seconds=seconds,
            window_start=result.start,
            window_end=result.end,
            report=report,
            computed_at=datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        session.add_all(
            MonitorPointRow(
                window_id=row.id,
                model_id=model.id,
                version=result.version,
                window_seconds=seconds,
                window_start=result.start,
                metric=metric,
                column=column,
                value=value,
            )
            for metric, column, value in figures
        )

    registry.db.write(work)


def stored_windows(
    registry: Registry,
    model: str,
    window: timedelta,
    *,
    version: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    last: int | None = None,
) -> list[StoredWindow]:
    """Stored window reports of a model (one version, or all), oldest first; ``last`` keeps the newest N."""
    with registry.db.reading() as session:
        row = select_named(session, ModelRow, model)
        if row is None:
            return []
        query = select(MonitorWindowRow).where(
            MonitorWindowRow.model_id == row.id,
            MonitorWindowRow.window_seconds == int(window.total_seconds()),
        )
        if version is not None:
            query = query.where(MonitorWindowRow.version == version)
        if start is not None:
            query = query.where(MonitorWindowRow.window_start >= start)
        if end is not None:
            query = query.where(MonitorWindowRow.window_start < end)
        query = query.order_by(MonitorWindowRow.window_start.desc(), MonitorWindowRow.version)
        if last is not None:
            query = query.limit(last)
        found = [
            StoredWindow(stored.version, stored.window_start, stored.window_end, stored.report)
            for stored in session.execute(query).scalars()
        ]
    return sorted(found, key=lambda stored: (stored.start, stored.version))


def series(
    registry: Registry,
    model: str,
    metric: str,
    window: timedelta,
    *,
    column: str = "",
    version: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[tuple[datetime, int, float | None]]:
    """One figure over time: ``(window start, version, value)``, oldest first."""
    with registry.db.reading() as session:
        row = select_named(session, ModelRow, model)
        if row is None:
            return []
        query = select(MonitorPointRow.window_start, MonitorPointRow.version, MonitorPointRow.value).where(
            MonitorPointRow.model_id == row.id,
            MonitorPointRow.metric == metric,
            MonitorPointRow.column == column,
            MonitorPointRow.window_seconds == int(window.total_seconds()),
        )
        if version is not None:
            query = query.where(MonitorPointRow.version == version)
        if start is not None:
            query = query.where(MonitorPointRow.window_start >= start)
        if end is not None:
            query = query.where(MonitorPointRow.window_start < end)
        return [
            (at, number, value)
            for at, number, value in session.execute(query.order_by(MonitorPointRow.window_start))
        ]


def latest_points(
    registry: Registry, model: str, window: timedelta
) -> list[tuple[int, str, str, float | None]]:
    """``(version, metric, column, value)`` of the newest stored window of each version of ``model``."""
    with registry.db.reading() as session:
        row = select_named(session, ModelRow, model)
        if row is None:
            return []
        newest: dict[int, int] = {}
        recent = session.execute(
            select(MonitorWindowRow.id, MonitorWindowRow.version)
            .where(
                MonitorWindowRow.model_id == row.id,
                MonitorWindowRow.window_seconds == int(window.total_seconds()),
            )
            .order_by(MonitorWindowRow.window_start.desc())
            .limit(50)
        )
        for window_id, version in recent:
            newest.setdefault(version, window_id)
        if not newest:
            return []
        points = session.execute(
            select(
                MonitorPointRow.version, MonitorPointRow.metric, MonitorPointRow.column, MonitorPointRow.value
            )
            .where(MonitorPointRow.window_id.in_(list(newest.values())))
            .order_by(MonitorPointRow.version, MonitorPointRow.id)
        )
        return [(version, metric, column, value) for version, metric, column, value in points]


def _figures(result: WindowResult) -> Iterator[tuple[str, str, float | None]]:
    yield "rows", "", float(result.rows)
    yield "requests", "", float(result.requests)
    yield "estimated_requests", "", result.estimated_requests
    yield "failed_requests", "", result.failed_requests
    for kind, count in result.failures.items():
        yield f"failures.{kind}", "", count
    yield "labelled_rows", "", float(result.labelled_rows)
    yield from _drift_figures("drift", result.drift)
    yield from _drift_figures("output_drift", result.output_drift)
    for feature, quality in result.quality.items():
        for name, value in quality.to_dict().items():
            yield f"quality.{name}", feature, value
    for name, value in result.accuracy.items():
        yield f"accuracy.{name}", "", value
    for name, value in result.health.items():
        yield f"health.{name}", "", value


def _drift_figures(prefix: str, drift: DatasetDrift | None) -> Iterator[tuple[str, str, float | None]]:
    if drift is None:
        return
    yield f"{prefix}.share", "", drift.drifted_share
    yield f"{prefix}.dataset", "", float(drift.drifted)
    for column in drift.columns:
        if column.no_data:
            continue
        yield f"{prefix}.score", column.column, column.score
        yield f"{prefix}.drifted", column.column, float(column.drifted)
        for name, value in column.scores.items():
            yield f"{prefix}.{name}", column.column, value
