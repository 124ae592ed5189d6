"""Monitoring results as a time series in the metadata database, and running monitors over a time range.

Each window is stored twice: its whole report (``monitor_windows``, JSON, what ``shipyard monitor show``
and the reports read), and its figures one per row (``monitor_points``: metric, column, value), the series
that alerts and dashboards query. Computing a window again replaces what was stored for it, so re-running
``shipyard monitor run`` over a range is safe. A run of consecutive windows without data is stored as one
record (``store.monitor_series``), and read back as its windows.

Metric names: ``rows``, ``requests``, ``estimated_requests``, ``failed_requests`` and per kind
``failures.<kind>`` (``failures.rejected``, ``failures.timeout``, …), ``labelled_rows``; ``drift.share`` and
``drift.dataset`` (1 when the dataset drifts); per feature ``drift.drifted`` (the verdict), the deciding
method's ``drift.p_value`` (a test: low = drift) or ``drift.distance`` (high = drift), and every method's
score as ``drift.<name>`` (``drift.psi``, ``drift.wasserstein``, ``drift.ks_p_value``, …); the same
under ``output_drift.`` for the outputs; ``quality.<figure>`` per feature; ``accuracy.<metric>``;
``health.<figure>``.

Window arithmetic (``parse_window``, ``window_starts``…) and the stored series load neither numpy nor
pyarrow: a server's supervisor parses its window here. Computing windows imports ``windows`` when it runs.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shipyard.durations import duration_label, parse_duration
from shipyard.errors import InvalidInput, NotFound
from shipyard.monitoring.policy import load_monitoring_policy
from shipyard.registry import ModelVersion, Registry
from shipyard.store.feedback import FeedbackRepository
from shipyard.store.monitor_series import (
    MAX_STRETCH_WINDOWS,
    MonitorSeriesRepository,
    StoredWindow,
    WindowToSave,
)

if TYPE_CHECKING:  # numpy and pyarrow: imported by the functions that compute windows
    from shipyard.monitoring.open_windows import OpenWindows
    from shipyard.monitoring.parallel import Chunk
    from shipyard.monitoring.windows import Sources, WindowResult
    from shipyard.predictions import PredictionLog
    from shipyard.stats.drift import DatasetDrift, DriftOptions

__all__ = [
    "StoredWindow",
    "check_window_count",
    "latest_points",
    "logged_versions",
    "monitor_range",
    "monitor_windows",
    "parse_window",
    "run_monitors",
    "save_window",
    "save_windows",
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
    open_windows: OpenWindows[Any] | None = None,
) -> list[WindowResult]:
    """Monitor every window of ``[start, end)`` for each version, store each, and return them; with
    ``open_windows`` (a runner's, kept between its runs) a window counted before counts only what is new."""
    return list(monitor_range(registry, log, versions, start, end, window, options, open_windows))


def monitor_range(
    registry: Registry,
    log: PredictionLog,
    versions: list[ModelVersion],
    start: datetime,
    end: datetime,
    window: timedelta,
    options: DriftOptions | None = None,
    open_windows: OpenWindows[Any] | None = None,
    processes: int | None = None,
) -> Iterator[WindowResult]:
    """Monitor every window of ``[start, end)`` for each version, storing them a batch at a time and
    yielding each once stored; memory holds one batch, however long the range.

    The cost follows the data, not the calendar: the log's folders say which hours hold anything of a
    version, only the windows over those hours are read, and the rest are "no data" without a read. Each
    model's ``[monitoring]`` policy (shipyard.toml) gives the rows a verdict needs and the most windows a
    range may hold; a longer range is refused before any work, with a window that fits.

    A range with many windows holding data is spread over ``processes`` worker processes (default: one per
    CPU, from a few hundred such windows on; ``monitoring.parallel``); results come in the same order.
    ``open_windows`` (a runner's tallies, kept in its process) keeps the work in this process.
    """
    if end <= start:
        raise InvalidInput(f"--from must come before --to; got {start.isoformat()} and {end.isoformat()}")
    for model in {version.model for version in versions}:
        check_window_count(start, end, window, load_monitoring_policy(registry.settings, model).max_windows)
    spread = None if open_windows is not None else _spread(log, versions, start, end, window, processes)
    if spread is not None:
        from shipyard.monitoring import parallel

        chunks, workers = spread
        yield from parallel.monitor_in_processes(
            registry.settings, monitor_windows, chunks, window, options, workers
        )
        return
    for version in versions:
        yield from monitor_windows(registry, log, version, start, end, window, options, open_windows)


def monitor_windows(
    registry: Registry,
    log: PredictionLog,
    version: ModelVersion,
    start: datetime,
    end: datetime,
    window: timedelta,
    options: DriftOptions | None = None,
    open_windows: OpenWindows[Any] | None = None,
) -> Iterator[WindowResult]:
    """``monitor_range`` for one version in this process: each window computed, stored a batch at a time,
    and yielded once stored."""
    from shipyard.monitoring.windows import empty_window, monitor_window

    minimums = load_monitoring_policy(registry.settings, version.model).min_rows
    pending: list[WindowResult] = []
    busy = 0
    quiet: WindowResult | None = None  # every window without data finds the same: one result, moved
    for moment, sources in _plan(registry, log, version, start, end, window):
        if sources is None:
            quiet = quiet or empty_window(version, moment, moment + window, minimums)
            result = quiet.moved(moment, moment + window)
        else:
            result = monitor_window(
                registry, log, version, moment, moment + window, options, minimums, sources, open_windows
            )
            busy += 1
        pending.append(result)
        if busy >= _SAVE_BATCH or len(pending) >= _SAVE_QUIET_BATCH:
            save_windows(registry, pending, window)
            yield from pending
            pending, busy = [], 0
    save_windows(registry, pending, window)
    yield from pending


def _spread(
    log: PredictionLog,
    versions: list[ModelVersion],
    start: datetime,
    end: datetime,
    window: timedelta,
    processes: int | None,
) -> tuple[list[Chunk], int] | None:
    """The chunks and the number of worker processes to spread the range over, or None to stay in this
    process: one process asked for, one CPU, or (by default) too few windows with data to repay starting
    workers. A range too short to hold that many is decided without listing the log."""
    if processes == 1 or (
        processes is None and _window_count(start, end, window) * len(versions) < _PARALLEL_WINDOWS
    ):
        return None
    from shipyard.threads import available_cpus

    planned = _chunks(log, versions, start, end, window)
    workers = min(processes or available_cpus(), len(planned))
    busy = sum(chunk.busy for chunk in planned)
    if workers < 2 or (processes is None and busy < _PARALLEL_WINDOWS):
        return None
    return [chunk.chunk for chunk in planned], workers


@dataclass(frozen=True)
class _Planned:
    chunk: Chunk
    busy: int  # windows in it with anything logged


def _chunks(
    log: PredictionLog, versions: list[ModelVersion], start: datetime, end: datetime, window: timedelta
) -> list[_Planned]:
    """Each version's windows cut into runs holding at most ``_CHUNK_WINDOWS`` windows with data, found by
    listing the log's folders (no segment opened)."""
    from shipyard.monitoring.parallel import Chunk

    first, last = window_start_of(start, window), window_start_of(end - _INSTANT, window) + window
    planned: list[_Planned] = []
    for version in versions:
        hours = log.hours_by_stream(version.model, version.version, first, last)
        busy: set[datetime] = set().union(*(_windows_with_data(found, window) for found in hours.values()))
        opened, count = first, 0
        for moment in window_starts(start, end, window):
            count += moment in busy
            if count == _CHUNK_WINDOWS or moment + window >= end:
                chunk = Chunk(version.model, version.version, opened, moment + window)
                planned.append(_Planned(chunk, count))
                opened, count = moment + window, 0
    return planned


def _plan(
    registry: Registry,
    log: PredictionLog,
    version: ModelVersion,
    start: datetime,
    end: datetime,
    window: timedelta,
) -> Iterator[tuple[datetime, Sources | None]]:
    """Each window of the range, with the sources worth reading in it (None: nothing was logged there),
    from one listing of the log's folders per stream and one lookup of the labels for the whole range."""
    from shipyard.monitoring.windows import Sources
    from shipyard.predictions.segments import FAILURES, PREDICTIONS, USAGE

    first, last = window_start_of(start, window), window_start_of(end - _INSTANT, window) + window
    hours = log.hours_by_stream(version.model, version.version, first, last)
    busy = {stream: _windows_with_data(found, window) for stream, found in hours.items()}
    predicted = _hours_by_window(hours[PREDICTIONS], window)
    labelled = FeedbackRepository(registry.db).has_labels(version.model, version.version, first, last)
    for moment in window_starts(start, end, window):
        if not any(moment in windows for windows in busy.values()):
            yield moment, None
        else:
            in_window = tuple(predicted.get(moment, ()))
            yield moment, Sources(moment in busy[FAILURES], moment in busy[USAGE], labelled, in_window)


#: Windows with data stored per transaction by ``monitor_range`` (they hold sketches), and windows in all
#: (those without data are a few numbers each, and a quiet stretch of them is stored as one record).
_SAVE_BATCH = 200
_SAVE_QUIET_BATCH = 2_000
#: Windows with data in a chunk handed to a worker process, and in a range before it is spread over them.
_CHUNK_WINDOWS = 200
_PARALLEL_WINDOWS = 400
_INSTANT = timedelta(microseconds=1)
_HOUR = timedelta(hours=1)
#: What ``check_window_count`` suggests instead of a window too small for the range, smallest first.
_WIDER_WINDOWS = tuple(parse_window(text) for text in ("1h", "6h", "1d", "7d", "30d"))


def check_window_count(start: datetime, end: datetime, window: timedelta, max_windows: int) -> int:
    """The number of windows of ``[start, end)``; InvalidInput, naming a window that fits, when more than
    ``max_windows``."""
    count = _window_count(start, end, window)
    if count <= max_windows:
        return count
    wider = next(
        (w for w in _WIDER_WINDOWS if w > window and _window_count(start, end, w) <= max_windows), None
    )
    advice = f"use --window {window_label(wider)} or a shorter range" if wider else "use a shorter range"
    length = window_label(window)
    raise InvalidInput(
        f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC holds {count:,} windows of {length}, "
        f"more than the {max_windows:,} one run computes: {advice} (or raise [monitoring] max_windows in "
        "shipyard.toml)"
    )


def _window_count(start: datetime, end: datetime, window: timedelta) -> int:
    first = window_start_of(start, window)
    return -(-int((end - first).total_seconds()) // int(window.total_seconds()))


def _hours_by_window(hours: list[datetime], window: timedelta) -> dict[datetime, list[datetime]]:
    """The start of each window overlapping any of these hours, with the hours that overlap it."""
    found: dict[datetime, list[datetime]] = {}
    for hour in hours:
        moment = window_start_of(hour, window)
        while moment < hour + _HOUR:
            found.setdefault(moment, []).append(hour)
            moment += window
    return found


def _windows_with_data(hours: list[datetime], window: timedelta) -> set[datetime]:
    """The starts of the windows overlapping any of these hours."""
    return set(_hours_by_window(hours, window))


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
    save_windows(registry, [result], window)


def save_windows(registry: Registry, results: list[WindowResult], window: timedelta) -> None:
    """Store windows' reports and figures in one transaction, replacing what was stored for them."""
    computed_at = datetime.now(UTC)
    repository = MonitorSeriesRepository(registry.db)
    for (model, version), group in itertools.groupby(results, key=lambda r: (r.model, r.version)):
        windows = _records(group)
        saved = repository.save_windows(
            model=model,
            version=version,
            window_seconds=int(window.total_seconds()),
            windows=windows,
            computed_at=computed_at,
        )
        if not saved:
            raise NotFound(f"model {model!r} is not registered")


def _records(results: Iterable[WindowResult]) -> list[WindowToSave]:
    """The windows to store: each run of consecutive windows without data, alike in all but their times,
    joined into one record of up to ``MAX_STRETCH_WINDOWS`` windows (a year of quiet hours is a few dozen
    records); a record's figures follow from its report, so they are taken once per record."""
    records: list[WindowToSave] = []
    quiet: dict[str, Any] | None = None
    count = 0
    for result in results:
        report = result.to_dict()
        if report["no_data"]:
            alike = {key: value for key, value in report.items() if key not in _TIMES}
            last = records[-1] if records else None
            if (
                alike == quiet
                and last is not None
                and last.end == result.start
                and count < MAX_STRETCH_WINDOWS
            ):
                records[-1] = dataclasses.replace(last, end=result.end)
                count += 1
                continue
            quiet, count = alike, 1
        else:
            quiet = None
        records.append(WindowToSave(result.start, result.end, report, list(_figures(result))))
    return records


#: The keys of a window's report that differ between the windows of a quiet stretch.
_TIMES = ("start", "end")


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
    found = MonitorSeriesRepository(registry.db).windows(
        model, int(window.total_seconds()), version=version, start=start, end=end, last=last
    )
    return [_with_own_times(stored) for stored in found]


def _with_own_times(stored: StoredWindow) -> StoredWindow:
    """A window of a stored quiet stretch carries the stretch's report: give it its own start and end."""
    start, end = stored.start.isoformat(), stored.end.isoformat()
    if stored.report.get("start") == start and stored.report.get("end") == end:
        return stored
    return dataclasses.replace(stored, report={**stored.report, "start": start, "end": end})


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
    """The window's figures as stored for alerts and charts; a figure whose verdict the window has too few
    rows for is None, so no alert fires or resolves on it (the report still shows its value). A window
    without data keeps its counts (zeros, what a "traffic stopped" rule reads) and none of its empty figures:
    a year of quiet hours is a few rows each, not a row per figure."""
    figures = _all_figures(result)
    if result.no_data:
        return (figure for figure in figures if figure[2] is not None)
    return figures


def _all_figures(result: WindowResult) -> Iterator[tuple[str, str, float | None]]:
    withheld = result.insufficient
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
            judged = "quality" not in withheld or name in _COUNTED_WITHOUT_MINIMUM
            yield f"quality.{name}", feature, value if judged else None
    for name, value in result.accuracy.items():
        yield f"accuracy.{name}", "", None if "accuracy" in withheld else value
    for name, value in result.health.items():
        yield f"health.{name}", "", value


#: Quality figures that count refusals, not shares of a sample: a single rejected row is a fact.
_COUNTED_WITHOUT_MINIMUM = ("rejected_rows", "rejected_share")


def _drift_figures(prefix: str, drift: DatasetDrift | None) -> Iterator[tuple[str, str, float | None]]:
    if drift is None:
        return
    yield f"{prefix}.share", "", drift.drifted_share
    yield f"{prefix}.dataset", "", None if drift.insufficient else float(drift.drifted)
    for column in drift.columns:
        if column.no_data:
            continue
        judged = not column.insufficient
        yield f"{prefix}.drifted", column.column, float(column.drifted) if judged else None
        # One of the two, by the deciding method: each figure keeps one meaning at every window size.
        if column.p_value is not None:
            yield f"{prefix}.p_value", column.column, column.p_value if judged else None
        if column.distance is not None:
            yield f"{prefix}.distance", column.column, column.distance if judged else None
        for name, value in column.scores.items():
            yield f"{prefix}.{name}", column.column, value if judged else None
