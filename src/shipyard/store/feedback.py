"""Late ground truth in the metadata database: one label per logged prediction, whenever it arrived.

The feedback service decides which labels are acceptable; this repository stores them (inserting new ones,
replacing changed ones) and reads them back, so the SQL stays here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple, cast

from sqlalchemy import ColumnElement, Table, func, insert, select, update
from sqlalchemy.orm import Session

from shipyard.store.database import Database
from shipyard.store.schema import PREDICTION_ID_LENGTH, FeedbackRow, ModelRow
from shipyard.store.sequences import select_named

__all__ = [
    "PREDICTION_ID_LENGTH",
    "FeedbackRepository",
    "LabelColumns",
    "NewLabel",
    "StoreReport",
    "StoreResult",
    "StoredLabel",
]

#: What storing one label did: stored anew, already stored as is, replaced a different label, or not
#: stored because its model is no longer registered.
StoreResult = Literal["attached", "duplicate", "updated", "no_model"]
#: Identifiers looked up per query (SQL parameter lists have limits: 32,766 in SQLite, 65,535 in PostgreSQL).
_CHUNK = 5_000
#: Rows written per statement: one transaction still holds them all.
_WRITE_CHUNK = 20_000


@dataclass
class StoreReport:
    """What storing did to each label, and the label each id held before (for ids that had one)."""

    results: dict[str, StoreResult]
    before: dict[str, str]


class NewLabel(NamedTuple):
    """A checked label (as JSON text) for one logged prediction of ``model``/``version`` (a tuple: a
    submission can hold a million)."""

    model: str
    version: int
    predicted_at: datetime
    label: str


class LabelColumns(NamedTuple):
    """A version's labels as two columns, ``labels[i]`` (JSON text) belonging to ``prediction_ids[i]``."""

    prediction_ids: list[str]
    labels: list[str]


@dataclass(frozen=True)
class StoredLabel:
    """A stored label, with the model version it belongs to."""

    prediction_id: str
    model: str
    version: int
    label: str  # JSON
    predicted_at: datetime
    received_at: datetime
    source: str


class FeedbackRepository:
    """The ``feedback`` rows of one metadata database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def store(
        self,
        labels: Mapping[str, NewLabel],
        *,
        source: str,
        received_at: datetime,
        progress: Callable[[int, int], None] | None = None,
    ) -> StoreReport:
        """Insert new labels and replace changed ones, all in one transaction: an interrupted call stores
        nothing, and storing the same labels again changes nothing. ``progress(written, to write)`` follows
        the writing, which for a million labels takes seconds."""

        def work(session: Session) -> StoreReport:
            before = _stored_labels(session, sorted(labels))
            model_ids = _model_ids(session, {new.model for new in labels.values()})
            report = StoreReport({}, before)
            inserts: list[str] = []
            updates: list[str] = []
            for identifier, new in labels.items():
                stored = before.get(identifier)
                if stored is not None:
                    if stored == new.label:
                        report.results[identifier] = "duplicate"
                    else:
                        updates.append(identifier)
                        report.results[identifier] = "updated"
                elif new.model not in model_ids:
                    report.results[identifier] = "no_model"
                else:
                    inserts.append(identifier)
                    report.results[identifier] = "attached"
            _write(session, labels, model_ids, inserts, updates, (received_at, source), progress)
            return report

        if not labels:
            return StoreReport({}, {})
        return self.db.write(work)

    def labels_of(
        self, model: str, version: int, start: datetime | None = None, end: datetime | None = None
    ) -> list[tuple[str, str, datetime]]:
        """``(prediction_id, label as JSON, predicted_at)`` of a version's labels in ``[start, end)``."""
        with self.db.reading() as session:
            row = select_named(session, ModelRow, model)
            if row is None:
                return []
            query = select(FeedbackRow.prediction_id, FeedbackRow.label, FeedbackRow.predicted_at).where(
                *_in_window(row.id, version, start, end)
            )
            return [(identifier, label, at) for identifier, label, at in session.execute(query)]

    def has_labels(self, model: str, version: int, start: datetime, end: datetime) -> bool:
        """Whether any of a version's predictions in ``[start, end)`` has a label (one indexed lookup)."""
        with self.db.reading() as session:
            row = select_named(session, ModelRow, model)
            if row is None:
                return False
            query = select(FeedbackRow.prediction_id).where(*_in_window(row.id, version, start, end)).limit(1)
            return session.execute(query).first() is not None

    def label_columns(
        self, model: str, version: int, start: datetime | None = None, end: datetime | None = None
    ) -> LabelColumns:
        """The ids and labels (as JSON) of a version's labels in ``[start, end)``, as columns: what joining
        labels to logged rows needs (a million in about a quarter of ``labels_of``'s time).

        The rows come straight off the driver's cursor in one fetch: ids and labels are text, which
        SQLAlchemy would pass through unchanged, and building its result row per label was most of the time;
        ``predicted_at``, which the join does not need, is not read (nor converted to a datetime)."""
        with self.db.reading() as session:
            row = select_named(session, ModelRow, model)
            if row is None:
                return LabelColumns([], [])
            query = select(FeedbackRow.prediction_id, FeedbackRow.label).where(
                *_in_window(row.id, version, start, end)
            )
            result = session.connection().execute(query)
            try:
                rows = result.cursor.fetchall()
            finally:
                result.close()
        return LabelColumns([identifier for identifier, _ in rows], [label for _, label in rows])

    def count_received(self, model: str, since: datetime | None = None) -> int:
        """How many of ``model``'s labels arrived (or were corrected) after ``since``."""
        with self.db.reading() as session:
            row = select_named(session, ModelRow, model)
            if row is None:
                return 0
            query = select(func.count()).select_from(FeedbackRow).where(FeedbackRow.model_id == row.id)
            if since is not None:
                query = query.where(FeedbackRow.received_at > since)
            return int(session.execute(query).scalar_one())

    def all_labels(self) -> list[StoredLabel]:
        """Every stored label."""
        with self.db.reading() as session:
            rows = session.execute(
                select(
                    FeedbackRow.prediction_id,
                    ModelRow.name,
                    FeedbackRow.version,
                    FeedbackRow.label,
                    FeedbackRow.predicted_at,
                    FeedbackRow.received_at,
                    FeedbackRow.source,
                ).join(ModelRow, ModelRow.id == FeedbackRow.model_id)
            ).all()
        return [StoredLabel(*row) for row in rows]


def _in_window(
    model_id: int, version: int, start: datetime | None, end: datetime | None
) -> list[ColumnElement[bool]]:
    """The conditions of one version's labels for predictions in ``[start, end)`` (an index covers them)."""
    conditions = [FeedbackRow.model_id == model_id, FeedbackRow.version == version]
    if start is not None:
        conditions.append(FeedbackRow.predicted_at >= start)
    if end is not None:
        conditions.append(FeedbackRow.predicted_at < end)
    return conditions


def _stored_labels(session: Session, identifiers: list[str]) -> dict[str, str]:
    """The label (JSON) already stored for each of ``identifiers`` that has one."""
    stored: dict[str, str] = {}
    for start in range(0, len(identifiers), _CHUNK):
        chunk = identifiers[start : start + _CHUNK]
        query = select(FeedbackRow.prediction_id, FeedbackRow.label).where(
            FeedbackRow.prediction_id.in_(chunk)
        )
        stored.update((identifier, label) for identifier, label in session.execute(query))
    return stored


def _model_ids(session: Session, names: set[str]) -> dict[str, int]:
    found = {}
    for name in names:
        row = select_named(session, ModelRow, name)
        if row is not None:
            found[name] = row.id
    return found


def _write(
    session: Session,
    labels: Mapping[str, NewLabel],
    model_ids: dict[str, int],
    inserts: list[str],
    updates: list[str],
    arrival: tuple[datetime, str],
    progress: Callable[[int, int], None] | None,
) -> None:
    """Many rows per statement (an executemany: the ORM's per-row work would double the time), in pieces
    so ``progress`` can follow a long write. Rows go in id order: ids lead with their time, so the primary
    key index grows at its end instead of being rewritten all over (a third of the time, a tenth of the
    disk writes)."""
    received_at, source = arrival

    def inserted(identifier: str) -> dict[str, object]:
        new = labels[identifier]
        return {
            "prediction_id": identifier,
            "model_id": model_ids[new.model],
            "version": new.version,
            "predicted_at": new.predicted_at,
            "label": new.label,
            "received_at": received_at,
            "source": source,
        }

    def updated(identifier: str) -> dict[str, object]:
        return {
            "prediction_id": identifier,
            "label": labels[identifier].label,
            "received_at": received_at,
            "source": source,
        }

    table = cast(Table, FeedbackRow.__table__)
    total, written = len(inserts) + len(updates), 0
    for identifiers, statement, row in (
        (inserts, insert(table), inserted),
        (updates, update(FeedbackRow), updated),
    ):
        identifiers.sort()
        for start in range(0, len(identifiers), _WRITE_CHUNK):
            chunk = [row(identifier) for identifier in identifiers[start : start + _WRITE_CHUNK]]
            session.execute(statement, chunk)
            written += len(chunk)
            if progress is not None:
                progress(written, total)
