"""Monitoring results in the metadata database: each window's report and its figures as a time series.

A window is stored twice: its whole report (``monitor_windows``, JSON, what ``shipyard monitor show`` and
the reports read) and its figures one per row (``monitor_points``: metric, column, value), the series
alerts and dashboards query. Saving a window again replaces what was stored for it, in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from typing import cast as typed

import orjson
from sqlalchemy import ColumnElement, Table, Text, cast, delete, func, insert, select
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
            starts = [window.start for window in windows]
            session.execute(delete(MonitorWindowRow).where(*same, MonitorWindowRow.window_start.in_(starts)))
            reports = [
                {
                    "model_id": row.id,
                    "version": version,
                    "window_seconds": window_seconds,
                    "window_start": window.start,
                    "window_end": window.end,
                    "report": window.report,
                    "computed_at": computed_at,
                }
                for window in windows
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
            ids = [id_of[window.start] for window in windows]
            points = [
                (window_id, row.id, version, window_seconds, window.start, metric, column, _real(value))
                for window_id, window in zip(ids, windows, strict=True)
                for metric, column, value in window.figures
            ]
            if points:
                _insert_points(session, points)
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
                chosen.append(window.window_start >= start)
            if end is not None:
                chosen.append(window.window_start < end)
            if last is not None:  # the newest N picked by id, so the sort never carries whole reports
                newest = select(window.id).where(*chosen).order_by(window.window_start.desc(), window.version)
                chosen = [window.id.in_(newest.limit(last))]
            # The columns, not the entity, and the report as its JSON text decoded with orjson: a month of
            # hourly windows is 720 reports, and entities plus the standard json decoder cost most of a
            # model page's time (bench/control_plane.py).
            report_text = cast(window.report, Text)
            query = select(window.version, window.window_start, window.window_end, report_text).where(*chosen)
            found = [
                StoredWindow(version, start_, end_, _report_of(text))
                for version, start_, end_, text in session.execute(query)
            ]
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
        with self.db.reading() as session:
            row = select_named(session, ModelRow, model)
            if row is None:
                return []
            query = select(
                MonitorPointRow.window_start, MonitorPointRow.version, MonitorPointRow.value
            ).where(
                MonitorPointRow.model_id == row.id,
                MonitorPointRow.metric == metric,
                MonitorPointRow.column == column,
                MonitorPointRow.window_seconds == window_seconds,
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
        query = (
            select(ModelRow.name, MonitorPointRow.version)
            .join(ModelRow, ModelRow.id == MonitorPointRow.model_id)
            .where(
                MonitorPointRow.window_seconds == window_seconds,
                MonitorPointRow.metric == metric,
                MonitorPointRow.window_start > after,
                MonitorPointRow.window_start <= until,
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
            latest = session.execute(select(func.max(MonitorPointRow.window_start)).where(*series)).scalar()
            if latest is None:
                return None
            withheld = frozenset(
                session.execute(
                    select(MonitorPointRow.column).where(
                        *series, MonitorPointRow.window_start == latest, MonitorPointRow.value.is_(None)
                    )
                ).scalars()
            )
            newest = session.execute(
                select(func.max(MonitorPointRow.window_start)).where(
                    *series, MonitorPointRow.value.is_not(None)
                )
            ).scalar_one_or_none()
            if newest is None:
                return NewestFigure(latest, [], {}, withheld, latest)
            values = session.execute(
                select(MonitorPointRow.column, MonitorPointRow.value).where(
                    *series, MonitorPointRow.window_start == newest
                )
            ).all()
            means = {} if means_over is None else _means(session, series, newest - means_over, newest)
        held_at = latest if withheld else None
        return NewestFigure(newest, [(column, value) for column, value in values], means, withheld, held_at)


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


def _insert_points(session: Session, points: list[tuple[Any, ...]]) -> None:
    """Insert figure rows ``(window id, model id, version, window seconds, start, metric, column, value)``
    with the driver's executemany: a year of quiet windows is tens of thousands of rows, and SQLAlchemy's
    per-row parameter processing cost more than the database did. Each start is converted once per window,
    as ``UTCDateTime`` would."""
    connection = session.connection()
    dialect = connection.dialect
    table = typed(Table, MonitorPointRow.__table__)
    to_database = table.c.window_start.type.dialect_impl(dialect).bind_processor(dialect)
    converted: dict[datetime, Any] = {}
    rows = []
    for point in points:
        start = point[4]
        if start not in converted:
            converted[start] = to_database(start) if to_database else start
        rows.append((*point[:4], converted[start], *point[5:]))
    quote = dialect.identifier_preparer.quote
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    statement = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name in _POINT_COLUMNS)}) "
        f"VALUES ({', '.join([marker] * len(_POINT_COLUMNS))})"
    )
    connection.exec_driver_sql(statement, rows)


def _real(value: float | None) -> float | None:
    """A figure as the driver takes it: numpy's integers and floats become Python's."""
    return None if value is None else float(value)


def _means(
    session: Session, series: tuple[ColumnElement[bool], ...], start: datetime, end: datetime
) -> dict[str, float]:
    """Each column's mean value over windows starting in ``[start, end)``."""
    return {
        column: float(mean)
        for column, mean in session.execute(
            select(MonitorPointRow.column, func.avg(MonitorPointRow.value))
            .where(
                *series,
                MonitorPointRow.window_start >= start,
                MonitorPointRow.window_start < end,
                MonitorPointRow.value.is_not(None),
            )
            .group_by(MonitorPointRow.column)
        )
        if mean is not None
    }


def _report_of(text: str) -> dict[str, Any]:
    """A stored report's JSON text as a dict: orjson, several times faster than the standard decoder, and
    the standard one for the reports orjson refuses (SQLite keeps a ``NaN`` that Python's json wrote)."""
    try:
        report: dict[str, Any] = orjson.loads(text)
    except orjson.JSONDecodeError:
        report = json.loads(text)
    return report
