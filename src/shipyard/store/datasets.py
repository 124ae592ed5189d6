"""Dataset versions in the metadata database: the dataset catalog's repository.

Versions are numbered under the dataset row's write lock (see ``sequences``), and a unique constraint on
(dataset, sha256) makes the same bytes one version however many processes add them at once. Methods take
and return ``DatasetVersion`` records, never ORM rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as DatabaseIntegrityError
from sqlalchemy.orm import Session

from shipyard.contracts import Contract
from shipyard.errors import NotFound, not_found
from shipyard.stats import Profile
from shipyard.store.audit import record_audit
from shipyard.store.database import Database
from shipyard.store.schema import DatasetRow, DatasetVersionRow
from shipyard.store.sequences import lock_or_create_named, next_version, select_named


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable version of a named dataset."""

    name: str
    version: int
    sha256: str
    size: int
    format: str
    rows: int
    columns: int
    contract: Contract
    profile: Profile
    source: str
    notes: dict[str, Any]
    created_at: datetime
    created_by: str
    #: False when ``add`` found identical data already stored under this name (nothing was written).
    created: bool = field(default=True, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"

    def to_dict(self, *, full: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "sha256": self.sha256,
            "size": self.size,
            "format": self.format,
            "rows": self.rows,
            "columns": self.columns,
            "source": self.source,
            "notes": self.notes,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "created": self.created,
        }
        if full:
            data["contract"] = self.contract.to_dict()
            data["profile"] = self.profile.to_dict()
        return data


@dataclass(frozen=True)
class NewDatasetVersion:
    """What adding a table stores: everything but the version number and the time."""

    sha256: str
    size: int
    format: str
    rows: int
    columns: int
    contract: Contract
    profile: Profile
    source: str
    notes: dict[str, Any]


class DatasetRepository:
    """Dataset versions of one metadata database; additions are stamped with ``actor``."""

    def __init__(self, db: Database, actor: str) -> None:
        self.db = db
        self.actor = actor

    def add(self, name: str, new: NewDatasetVersion, *, reason: str) -> DatasetVersion:
        """Store the next version of ``name`` (creating the dataset on first use), audited.

        When another process stored the same bytes under this name a moment ago, that version is returned
        with ``created`` False: it is ours too.
        """
        try:
            number = self.db.write(lambda session: self._insert(session, name, new, reason))
        except DatabaseIntegrityError:
            found = self.find(name, new.sha256)
            if found is None:
                raise
            return replace(found, created=False)
        return self.get(name, number)

    def get(self, name: str, version: int | None) -> DatasetVersion:
        """One version of ``name``, or its newest when ``version`` is None."""
        with self.db.reading() as session:
            dataset = select_named(session, DatasetRow, name)
            if dataset is None:
                raise _unknown_dataset(session, name)
            query = select(DatasetVersionRow).where(DatasetVersionRow.dataset_id == dataset.id)
            if version is not None:
                query = query.where(DatasetVersionRow.version == version)
            else:
                query = query.order_by(DatasetVersionRow.version.desc()).limit(1)
            row = session.execute(query).scalar_one_or_none()
            if row is None:
                last = dataset.last_version
                raise NotFound(f"dataset {name!r} has no version {version} (versions 1–{last})")
            return _entity(row, dataset.name)

    def find(self, name: str, sha256: str) -> DatasetVersion | None:
        """The version of ``name`` holding exactly these bytes, if any."""
        with self.db.reading() as session:
            found = session.execute(
                select(DatasetVersionRow)
                .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
                .where(DatasetRow.name == name, DatasetVersionRow.sha256 == sha256)
            ).scalar_one_or_none()
            return _entity(found, name) if found is not None else None

    def find_by_hash(self, sha256: str) -> DatasetVersion | None:
        """The oldest version of any dataset holding exactly these bytes, if any."""
        with self.db.reading() as session:
            found = session.execute(
                select(DatasetVersionRow, DatasetRow.name)
                .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
                .where(DatasetVersionRow.sha256 == sha256)
                .order_by(DatasetVersionRow.id)
                .limit(1)
            ).first()
            return _entity(found[0], found[1]) if found else None

    def versions(self, name: str | None = None) -> list[DatasetVersion]:
        """Every dataset version (or every version of one dataset), by name then version."""
        with self.db.reading() as session:
            query = select(DatasetVersionRow, DatasetRow.name).join(
                DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id
            )
            if name is not None:
                if select_named(session, DatasetRow, name) is None:
                    raise _unknown_dataset(session, name)
                query = query.where(DatasetRow.name == name)
            rows = session.execute(query.order_by(DatasetRow.name, DatasetVersionRow.version)).all()
            return [_entity(row, dataset_name) for row, dataset_name in rows]

    def _insert(self, session: Session, name: str, new: NewDatasetVersion, reason: str) -> int:
        row, _ = lock_or_create_named(
            session, DatasetRow, name, {"created_at": _now(), "created_by": self.actor}
        )
        number = next_version(session, DatasetRow, row.id)
        session.add(
            DatasetVersionRow(
                dataset_id=row.id,
                version=number,
                sha256=new.sha256,
                size=new.size,
                format=new.format,
                rows=new.rows,
                columns=new.columns,
                contract=new.contract.to_dict(),
                profile=new.profile.to_dict(),
                source=new.source,
                notes=new.notes,
                created_at=_now(),
                created_by=self.actor,
            )
        )
        record_audit(
            session,
            actor=self.actor,
            action="dataset.add",
            target=f"dataset:{name}/{number}",
            after={"sha256": new.sha256, "rows": new.rows, "format": new.format},
            reason=reason,
        )
        return number


def _unknown_dataset(session: Session, name: str) -> NotFound:
    names = session.execute(select(DatasetRow.name)).scalars().all()
    return not_found("dataset", name, candidates=names, list_command="shipyard data list")


def _now() -> datetime:
    return datetime.now(UTC)


def _entity(row: DatasetVersionRow, name: str) -> DatasetVersion:
    return DatasetVersion(
        name=name,
        version=row.version,
        sha256=row.sha256,
        size=row.size,
        format=row.format,
        rows=row.rows,
        columns=row.columns,
        contract=Contract.from_dict(row.contract),
        profile=Profile.from_dict(row.profile),
        source=row.source,
        notes=dict(row.notes),
        created_at=row.created_at,
        created_by=row.created_by,
    )
