"""Monitoring results as a time series in the metadata database, and running monitors over a time range.

Each window is stored twice: its whole report (``monitor_windows``, JSON, what ``shipyard monitor show``
and the reports read), and its figures one per row (``monitor_points``: metric, column, value), the series
that alerts and dashboards query. Computing a window again replaces what was stored for it, so re-running
``shipyard monitor run`` over a range is safe.

Metric names: ``rows``, ``requests``, ``estimated_requests``, ``failed_requests`` and per kind
``failures.<kind>`` (``failures.rejected``, ``failures.timeout``, …), ``labelled_rows``; ``drift.share`` and
``drift.dataset`` (1 when the dataset drifts); per feature ``drift.drifted`` (the verdict), the deciding
method's ``drift.p_value`` (a test: low = drift) or ``drift.distance`` (high = drift), and every method's
score as ``drift.<name>`` (``drift.psi``, ``drift.wasserstein``, ``drift.ks_p_value``, …); the same
under ``output_drift.`` for the outputs; ``quality.<figure>`` per feature; ``accuracy.<metric>``;
``health.<figure>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from shipyard.durations import duration_label, parse_duration
from shipyard.errors import InvalidInput, NotFound
from shipyard.monitoring.windows import WindowResult, monitor_window
from shipyard.predictions import PredictionLog
from shipyard.registry import ModelVersion, Registry
from shipyard.stats.drift import DatasetDrift, DriftOptions
from shipyard.store.monitor_series import MonitorSeriesRepository, StoredWindow

__all__ = [
    "StoredWindow",
    "latest_points",
    "logged_versions",
    "parse_window",
    "run_monitors",
    "save_window",
    "series",
    "stored_windows",
    "window_label",
    "window_start_of",
    "window_starts",
]


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
    """Store a window's report and figures, replacing what was stored for that window."""
    saved = MonitorSeriesRepository(registry.db).save_window(
        model=result.model,
        version=result.version,
        window_seconds=int(window.total_seconds()),
        start=result.start,
        end=result.end,
        report=result.to_dict(),
        figures=_figures(result),
        computed_at=datetime.now(UTC),
    )
    if not saved:
        raise NotFound(f"model {result.model!r} is not registered")


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
    return MonitorSeriesRepository(registry.db).windows(
        model, int(window.total_seconds()), version=version, start=start, end=end, last=last
    )


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
    return MonitorSeriesRepository(registry.db).series(
        model, metric, int(window.total_seconds()), column=column, version=version, start=start, end=end
    )


def latest_points(
    registry: Registry, model: str, window: timedelta
) -> list[tuple[int, str, str, float | None]]:
    """``(version, metric, column, value)`` of the newest stored window of each version of ``model``."""
    return MonitorSeriesRepository(registry.db).latest_points(model, int(window.total_seconds()))


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
        yield f"{prefix}.drifted", column.column, float(column.drifted)
        # One of the two, by the deciding method: each figure keeps one meaning at every window size.
        if column.p_value is not None:
            yield f"{prefix}.p_value", column.column, column.p_value
        if column.distance is not None:
            yield f"{prefix}.distance", column.column, column.distance
        for name, value in column.scores.items():
            yield f"{prefix}.{name}", column.column, value
