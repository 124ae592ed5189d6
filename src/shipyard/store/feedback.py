"""Late ground truth in the metadata database: one label per logged prediction, whenever it arrived.

The feedback service decides which labels are acceptable; this repository stores them (inserting new ones,
replacing changed ones) and reads them back, so the SQL stays here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.store.database import Database
from shipyard.store.schema import PREDICTION_ID_LENGTH, FeedbackRow, ModelRow
from shipyard.store.sequences import select_named

__all__ = ["PREDICTION_ID_LENGTH", "FeedbackRepository", "NewLabel", "StoreResult", "StoredLabel"]

#: What storing one label did: stored anew, already stored as is, replaced a different label, or not
#: stored because its model is no longer registered.
StoreResult = Literal["attached", "duplicate", "updated", "no_model"]
#: Identifiers looked up per query (SQL parameter lists have limits).
_CHUNK = 500


@dataclass(frozen=True)
class NewLabel:
    """A checked label (as JSON text) for one logged prediction of ``model``/``version``."""

    model: str
    version: int
    predicted_at: datetime
    label: str


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
        self, labels: Mapping[str, NewLabel], *, source: str, received_at: datetime
    ) -> dict[str, StoreResult]:
        """Insert new labels and replace changed ones, in one transaction; what happened to each id."""

        def work(session: Session) -> dict[str, StoreResult]:
            existing = _existing(session, list(labels))
            model_ids: dict[str, int | None] = {}
            results: dict[str, StoreResult] = {}
            for identifier, new in labels.items():
                stored = existing.get(identifier)
                if stored is not None and stored.label == new.label:
                    results[identifier] = "duplicate"
                    continue
                if stored is not None:
                    stored.label, stored.received_at, stored.source = new.label, received_at, source
                    results[identifier] = "updated"
                    continue
                if new.model not in model_ids:
                    row = select_named(session, ModelRow, new.model)
                    model_ids[new.model] = row.id if row is not None else None
                model_id = model_ids[new.model]
                if model_id is None:
                    results[identifier] = "no_model"
                    continue
                session.add(
                    FeedbackRow(
                        prediction_id=identifier,
                        model_id=model_id,
                        version=new.version,
                        predicted_at=new.predicted_at,
                        label=new.label,
                        received_at=received_at,
                        source=source,
                    )
                )
                results[identifier] = "attached"
            return results

        if not labels:
            return {}
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
                FeedbackRow.model_id == row.id, FeedbackRow.version == version
            )
            if start is not None:
                query = query.where(FeedbackRow.predicted_at >= start)
            if end is not None:
                query = query.where(FeedbackRow.predicted_at < end)
            return [(identifier, label, at) for identifier, label, at in session.execute(query)]

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


def _existing(session: Session, identifiers: list[str]) -> dict[str, FeedbackRow]:
    existing: dict[str, FeedbackRow] = {}
    for start in range(0, len(identifiers), _CHUNK):
        chunk = identifiers[start : start + _CHUNK]
        for row in session.execute(select(FeedbackRow).where(FeedbackRow.prediction_id.in_(chunk))).scalars():
            existing[row.prediction_id] = row
    return existing
