"""Monitoring results in the metadata database: each window's report and its figures as a time series.

A window is stored twice: its whole report (``monitor_windows``, JSON, what ``shipyard monitor show`` and
the reports read) and its figures one per row (``monitor_points``: metric, column, value), the series
alerts and dashboards query. Saving a window again replaces what was stored for it, in one transaction.

A record may stand for a run of consecutive windows with the same report and figures: a quiet stretch, where
nothing was logged (``window_end`` then lies several windows after ``window_start``, and its figures are
stored once, at its start). A year of quiet hours is a few records, not 8,760 reports and 70,000 figures.
Every reader here hands back each window of a stretch on its own, as if it had been stored alone; the report
of such a window is the stretch's (its ``start`` and ``end`` are the stretch's first window's).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from typing import cast as typed

import orjson
from sqlalchemy import ColumnElement, Table, Text, cast, delete, insert, select
from sqlalchemy.orm import Session

from shipyard.store.database import Database
from shipyard.store.schema import ModelRow, MonitorPointRow, MonitorWindowRow
from shipyard.store.sequences import select_named

#: How many of a model's newest windows are searched for the newest of each version.
_RECENT_WINDOWS = 50


@dataclass(frozen=True)
class StoredWindow:
    """One stored window report of a version."""

    version: int
    start: datetime
    end: datetime
    report: dict[str, Any]


@dataclass(frozen=True)
class WindowToSave:
    """One window's report and figures ``(metric, column, value)``, as ``save_windows`` stores them."""

    start: datetime
    end: datetime
    report: dict[str, Any]
    figures: list[tuple[str, str, float | None]]
    #: When it was computed (a stretch's part kept from an earlier run keeps its own); None: now.
    computed_at: datetime | None = None


@dataclass(frozen=True)
class NewestFigure:
    """A figure's values in the newest window of one version: ``values`` by column (``""`` for the whole
    window), and, when asked for, each column's mean over a period before that window."""

    window_start: datetime
    values: list[tuple[str, float | None]]
    means: dict[str, float]
    #: The columns whose figure the newest window that has it at all stores as None (a verdict that window
    #: had too few rows for), and that window's start; None when it holds every value.
    withheld: frozenset[str] = frozenset()
    withheld_at: datetime | None = None


class MonitorSeriesRepository:
    """The ``monitor_windows`` and ``monitor_points`` rows of one metadata database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def save_window(
        self,
        *,
        model: str,
        version: int,
        window_seconds: int,
        start: datetime,
        end: datetime,
        report: dict[str, Any],
        figures: Iterable[tuple[str, str, float | None]],
        computed_at: datetime,
    ) -> bool:
        """Replace the stored window (report and figures) of this version; False when the model is not
        registered."""
        window = WindowToSave(start, end, report, list(figures))
        return self.save_windows(
            model=model,
            version=version,
            window_seconds=window_seconds,
            windows=[window],
            computed_at=computed_at,
        )

    def save_windows(
        self,
        *,
        model: str,
        version: int,
        window_seconds: int,
        windows: list[WindowToSave],
        computed_at: datetime,
    ) -> bool:
        """Replace the stored windows (reports and figures) of this version in one transaction, with one bulk
        insert each for the reports and the figures; False when the model is not registered.

        A long range is stored a batch at a time (``shipyard.monitoring.series``): a year of hourly windows
        costs a few dozen statements, not tens of thousands."""
        if not windows:
            return True

        def work(session: Session) -> bool:
            row = select_named(session, ModelRow, model)
            if row is None:
                return False
            same = (
                MonitorWindowRow.model_id == row.id,
                MonitorWindowRow.version == version,
                MonitorWindowRow.window_seconds == window_seconds,
            )
            length = timedelta(seconds=window_seconds)
            kept = _replace_overlapped(session, same, windows, length)
            saving = [*windows, *kept]
            starts = [window.start for window in saving]
            reports = [
                {
                    "model_id": row.id,
                    "version": version,
                    "window_seconds": window_seconds,
                    "window_start": window.start,
                    "window_end": window.end,
                    "report": window.report,
                    "computed_at": window.computed_at or computed_at,
                }
                for window in saving
            ]
            # Core inserts of the tables (not the entities), then the new ids read back by start: one
            # multi-row statement per batch of rows, where the ORM's path (or RETURNING in parameter order,
            # on SQLite) ran one statement per window.
            windows_table = typed(Table, MonitorWindowRow.__table__)
            session.execute(insert(windows_table), reports)
            stored = session.execute(
                select(MonitorWindowRow.window_start, MonitorWindowRow.id).where(
                    *same, MonitorWindowRow.window_start.in_(starts)
                )
            )
            id_of = {start: window_id for start, window_id in stored}
            ids = [id_of[window.start] for window in saving]
            _insert_points(session, (row.id, version, window_seconds), list(zip(ids, saving, strict=True)))
            return True

        return self.db.write(work)

    def windows(
        self,
        model: str,
        window_seconds: int,
        *,
        version: int | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        last: int | None = None,
    ) -> list[StoredWindow]:
        """Stored window reports of a model (one version, or all), oldest first; ``last`` keeps the newest."""
        length = timedelta(seconds=window_seconds)
        with self.db.reading() as session:
            row = select_named(session, ModelRow, model)
            if row is None:
                return []
            window = MonitorWindowRow
            chosen: list[ColumnElement[bool]] = [
                window.model_id == row.id,
                window.window_seconds == window_seconds,
            ]
            if version is not None:
                chosen.append(window.version == version)
            if start is not None:
                chosen += [
                    window.window_start >= _earliest_reaching(start, length),
                    window.window_end > start,
                ]
            if end is not None:
                chosen.append(window.window_start < end)
            if last is not None:
                # The newest N picked by id, so the sort never carries whole reports; by end, since the N
                # newest windows lie in the N records that end last (a stretch ends with its newest window).
                newest = select(window.id).where(*chosen).order_by(window.window_end.desc(), window.version)
                chosen = [window.id.in_(newest.limit(last))]
            # The columns, not the entity, and the report as its JSON text decoded with orjson: a month of
            # hourly windows is 720 reports, and entities plus the standard json decoder cost most of a
            # model page's time (bench/control_plane.py).
            report_text = cast(window.report, Text)
            query = select(window.version, window.window_start, window.window_end, report_text).where(*chosen)
            found = [
                StoredWindow(number, moment, moment + length, report)
                for number, first, final, text in session.execute(query)
                for report in (_report_of(text),)
                for moment in _starts_within(first, final, length, start, end)
            ]
        if last is not None:  # a stretch counts as its windows
            found = sorted(found, key=lambda stored: (-stored.start.timestamp(), stored.version))[:last]
        return sorted(found, key=lambda stored: (stored.start, stored.version))

    def series(
        self,
        model: str,
        metric: str,
        window_seconds: int,
        *,
        column: str = "",
        version: int | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[tuple[datetime, int, float | None]]:
        """One figure over time: ``(window start, version, value)``, oldest first."""
        length = timedelta(seconds=window_seconds)
        with self.db.reading() as session:
            row = select_named(session, ModelRow, model)
            if row is None:
                return []
            point = MonitorPointRow
            query = (
                select(point.window_start, MonitorWindowRow.window_end, point.version, point.value)
                .join(MonitorWindowRow, MonitorWindowRow.id == point.window_id)
                .where(
                    point.model_id == row.id,
                    point.metric == metric,
                    point.column == column,
                    point.window_seconds == window_seconds,
                )
            )
            if version is not None:
                query = query.where(point.version == version)
            if start is not None:
                query = query.where(
                    point.window_start >= _earliest_reaching(start, length),
                    MonitorWindowRow.window_end > start,
                )
            if end is not None:
                query = query.where(point.window_start < end)
            found = [
                (moment, number, value)
                for first, final, number, value in session.execute(query.order_by(point.window_start))
                for moment in _starts_within(first, final, length, start, end)
            ]
        return sorted(found, key=lambda point: point[0])

    def latest_points(self, model: str, window_seconds: int) -> list[tuple[int, str, str, float | None]]:
        """``(version, metric, column, value)`` of the newest stored window of each version of ``model``."""
        with self.db.reading() as session:
            row = select_named(session, ModelRow, model)
            if row is None:
                return []
            newest: dict[int, int] = {}
            recent = session.execute(
                select(MonitorWindowRow.id, MonitorWindowRow.version)
                .where(MonitorWindowRow.model_id == row.id, MonitorWindowRow.window_seconds == window_seconds)
                .order_by(MonitorWindowRow.window_start.desc())
                .limit(_RECENT_WINDOWS)
            )
            for window_id, version in recent:
                newest.setdefault(version, window_id)
            if not newest:
                return []
            points = session.execute(
                select(
                    MonitorPointRow.version,
                    MonitorPointRow.metric,
                    MonitorPointRow.column,
                    MonitorPointRow.value,
                )
                .where(MonitorPointRow.window_id.in_(list(newest.values())))
                .order_by(MonitorPointRow.version, MonitorPointRow.id)
            )
            return [(version, metric, column, value) for version, metric, column, value in points]

    def versions_with_figure(
        self, metric: str, window_seconds: int, *, after: datetime, until: datetime, model: str | None = None
    ) -> set[tuple[str, int]]:
        """``(model, version)`` pairs with ``metric`` in a window starting in ``(after, until]``."""
        length = timedelta(seconds=window_seconds)
        query = (
            select(ModelRow.name, MonitorPointRow.version)
            .join(ModelRow, ModelRow.id == MonitorPointRow.model_id)
            .join(MonitorWindowRow, MonitorWindowRow.id == MonitorPointRow.window_id)
            .where(
                MonitorPointRow.window_seconds == window_seconds,
                MonitorPointRow.metric == metric,
                MonitorPointRow.window_start > _earliest_reaching(after, length),
                MonitorPointRow.window_start <= until,
                MonitorWindowRow.window_end > after + length,  # a window of it starts after ``after``
            )
            .distinct()
        )
        if model is not None:
            query = query.where(ModelRow.name == model)
        with self.db.reading() as session:
            return {(name, version) for name, version in session.execute(query)}

    def newest_figure(
        self,
        model: str,
        version: int,
        metric: str,
        window_seconds: int,
        *,
        until: datetime,
        means_over: timedelta | None = None,
    ) -> NewestFigure | None:
        """The figure's values in the newest window of this version starting at or before ``until`` that has
        any (None without one); with ``means_over``, each column's mean over that long before it.

        A window without a value (one just begun, or begun while the server was down) says nothing yet: the
        window before it still answers, until it is too old for the caller. The columns the newest window
        stores as None are named in ``withheld``: that window had too few rows to judge them."""
        length = timedelta(seconds=window_seconds)
        with self.db.reading() as session:
            model_id = session.execute(select(ModelRow.id).where(ModelRow.name == model)).scalar_one_or_none()
            if model_id is None:
                return None
            series = (
                MonitorPointRow.model_id == model_id,
                MonitorPointRow.version == version,
                MonitorPointRow.window_seconds == window_seconds,
                MonitorPointRow.metric == metric,
                MonitorPointRow.window_start <= until,
            )
            latest = _newest_record(session, series)
            if latest is None:
                return None
            latest_start = _last_start_by(latest, length, until)
            withheld = frozenset(
                session.execute(
                    select(MonitorPointRow.column).where(
                        *series, MonitorPointRow.window_id == latest[0], MonitorPointRow.value.is_(None)
                    )
                ).scalars()
            )
            valued = _newest_record(session, (*series, MonitorPointRow.value.is_not(None)))
            if valued is None:
                return NewestFigure(latest_start, [], {}, withheld, latest_start)
            newest = _last_start_by(valued, length, until)
            values = session.execute(
                select(MonitorPointRow.column, MonitorPointRow.value).where(
                    *series, MonitorPointRow.window_id == valued[0]
                )
            ).all()
            means = {} if means_over is None else _means(session, series, newest - means_over, newest, length)
        held_at = latest_start if withheld else None
        return NewestFigure(newest, [(column, value) for column, value in values], means, withheld, held_at)


#: The most windows one stored record stands for (a quiet stretch): it bounds how far before a time a
#: record reaching it can start, so every reader's range stays on the index.
MAX_STRETCH_WINDOWS = 200


def _earliest_reaching(moment: datetime, length: timedelta) -> datetime:
    """The earliest start of a record that can still hold windows at or after ``moment``."""
    return moment - MAX_STRETCH_WINDOWS * length


def _starts_within(
    first: datetime, final: datetime, length: timedelta, start: datetime | None, end: datetime | None
) -> Iterator[datetime]:
    """The starts of a record's windows (``[first, final)``, one or a stretch) inside ``[start, end)``."""
    moment = first
    while moment < final:
        if (start is None or moment >= start) and (end is None or moment < end):
            yield moment
        moment += length


def _newest_record(
    session: Session, series: tuple[ColumnElement[bool], ...]
) -> tuple[int, datetime, datetime] | None:
    """``(id, start, end)`` of the newest record with a point in ``series``."""
    found = session.execute(
        select(MonitorPointRow.window_id, MonitorPointRow.window_start, MonitorWindowRow.window_end)
        .join(MonitorWindowRow, MonitorWindowRow.id == MonitorPointRow.window_id)
        .where(*series)
        .order_by(MonitorPointRow.window_start.desc())
        .limit(1)
    ).first()
    return None if found is None else (found[0], found[1], found[2])


def _last_start_by(record: tuple[int, datetime, datetime], length: timedelta, until: datetime) -> datetime:
    """The start of the record's last window that starts at or before ``until``."""
    _, first, final = record
    whole = min(int((until - first) / length), int((final - first) / length) - 1)
    return first + max(whole, 0) * length


def _replace_overlapped(
    session: Session, same: tuple[ColumnElement[bool], ...], windows: list[WindowToSave], length: timedelta
) -> list[WindowToSave]:
    """Delete the stored records the windows about to be saved overlap, and return the parts of them outside
    those windows (a quiet stretch computed again only in part), to be stored again as they were."""
    low, high = min(window.start for window in windows), max(window.end for window in windows)
    covered = {
        moment
        for window in windows
        for moment in _starts_within(window.start, window.end, length, None, None)
    }
    window = MonitorWindowRow
    overlapping = session.execute(
        select(window.id, window.window_start, window.window_end).where(
            *same,
            window.window_start >= _earliest_reaching(low, length),
            window.window_start < high,
            window.window_end > low,
        )
    ).all()
    doomed: list[int] = []
    kept: list[WindowToSave] = []
    for record_id, first, final in overlapping:
        starts = list(_starts_within(first, final, length, None, None))
        left = [moment for moment in starts if moment not in covered]
        if len(left) == len(starts):
            continue  # in a gap between the windows saved: untouched
        doomed.append(record_id)
        if left:
            kept += _parts_kept(session, record_id, left, length)
    if doomed:
        # Core-style: no objects of these rows are loaded, so the ORM has none to bring in line.
        session.execute(
            delete(window).where(window.id.in_(doomed)).execution_options(synchronize_session=False)
        )
    return kept


def _parts_kept(
    session: Session, record_id: int, starts: list[datetime], length: timedelta
) -> list[WindowToSave]:
    """A record's report and figures over each run of consecutive ``starts``."""
    report, computed_at = session.execute(
        select(MonitorWindowRow.report, MonitorWindowRow.computed_at).where(MonitorWindowRow.id == record_id)
    ).one()
    figures = [
        (metric, column, value)
        for metric, column, value in session.execute(
            select(MonitorPointRow.metric, MonitorPointRow.column, MonitorPointRow.value)
            .where(MonitorPointRow.window_id == record_id)
            .order_by(MonitorPointRow.id)
        )
    ]
    runs: list[list[datetime]] = []
    for moment in starts:
        if runs and runs[-1][-1] + length == moment:
            runs[-1].append(moment)
        else:
            runs.append([moment])
    return [WindowToSave(run[0], run[-1] + length, report, figures, computed_at) for run in runs]


_POINT_COLUMNS = (
    "window_id",
    "model_id",
    "version",
    "window_seconds",
    "window_start",
    "metric",
    "column",
    "value",
)


def _insert_points(
    session: Session, series: tuple[int, int, int], windows: list[tuple[int, WindowToSave]]
) -> None:
    """Insert the figures of each ``(window id, window)`` as rows of ``series`` (model id, version, window
    seconds) with the driver's executemany: a month of busy windows is tens of thousands of rows, and
    SQLAlchemy's per-row parameter processing cost more than the database did. Each start is converted
    once per window, as ``UTCDateTime`` would."""
    connection = session.connection()
    dialect = connection.dialect
    table = typed(Table, MonitorPointRow.__table__)
    to_database = table.c.window_start.type.dialect_impl(dialect).bind_processor(dialect)
    model_id, version, window_seconds = series
    rows = []
    for window_id, window in windows:
        start = to_database(window.start) if to_database else window.start
        head = (window_id, model_id, version, window_seconds, start)
        # None stays None; numpy's integers and floats become Python's, as the driver takes them.
        rows += [
            (*head, metric, column, value if value is None else float(value))
            for metric, column, value in window.figures
        ]
    if not rows:
        return
    quote = dialect.identifier_preparer.quote
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    statement = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name in _POINT_COLUMNS)}) "
        f"VALUES ({', '.join([marker] * len(_POINT_COLUMNS))})"
    )
    connection.exec_driver_sql(statement, rows)


def _means(
    session: Session,
    series: tuple[ColumnElement[bool], ...],
    start: datetime,
    end: datetime,
    length: timedelta,
) -> dict[str, float]:
    """Each column's mean value over windows starting in ``[start, end)``; a stretch counts once per window
    of it in the period."""
    point = MonitorPointRow
    totals: dict[str, list[float]] = {}
    for column, value, first, final in session.execute(
        select(point.column, point.value, point.window_start, MonitorWindowRow.window_end)
        .join(MonitorWindowRow, MonitorWindowRow.id == point.window_id)
        .where(
            *series,
            point.window_start >= _earliest_reaching(start, length),
            point.window_start < end,
            MonitorWindowRow.window_end > start,
            point.value.is_not(None),
        )
    ):
        if value is None:
            continue
        count = sum(1 for _ in _starts_within(first, final, length, start, end))
        total = totals.setdefault(column, [0.0, 0])
        total[0] += value * count
        total[1] += count
    return {column: total / count for column, (total, count) in totals.items() if count}


def _report_of(text: str) -> dict[str, Any]:
    """A stored report's JSON text as a dict: orjson, several times faster than the standard decoder, and
    the standard one for the reports orjson refuses (SQLite keeps a ``NaN`` that Python's json wrote)."""
    try:
        report: dict[str, Any] = orjson.loads(text)
    except orjson.JSONDecodeError:
        report = json.loads(text)
    return report
