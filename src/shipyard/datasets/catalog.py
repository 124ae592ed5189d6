"""Dataset versions: tables stored once under their content hash, with row count, contract and profile.

Adding the same bytes under the same name again is a no-op that returns the existing version, so a training
job can "add" its data on every run and lineage still points at one version. Files are stored as given
(a CSV stays a CSV, its hash is the file's hash); in-memory tables are written to Parquet deterministically
first. Reading a version back re-verifies its hash.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as DatabaseIntegrityError
from sqlalchemy.orm import Session

from shipyard.contracts import Contract
from shipyard.datasets.reading import as_frame, csv_type_breaks, detect_format, read_table, write_parquet
from shipyard.errors import InvalidInput, NotFound, not_found
from shipyard.refs import ModelRef, validate_name
from shipyard.stats import Profile
from shipyard.store.artifacts import ArtifactInfo, ArtifactStore
from shipyard.store.audit import record_audit
from shipyard.store.database import Database
from shipyard.store.schema import DatasetRow, DatasetVersionRow
from shipyard.store.sequences import lock_or_create_named, next_version, select_named

_SHOWN_ROWS = 10


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


class DatasetCatalog:
    """Dataset versions of one workspace (reach it as ``Registry().datasets``)."""

    def __init__(self, db: Database, artifacts: ArtifactStore, actor: str) -> None:
        self.db = db
        self.artifacts = artifacts
        self.actor = actor

    def add(self, name: str, data: Any, *, format: str | None = None, reason: str = "") -> DatasetVersion:
        """Store ``data`` (a CSV/Parquet path, a DataFrame or a pyarrow Table) as a version of ``name``.

        Identical content under the same name returns the existing version (``created`` is False). The
        caller's file is read once, into scratch space; the contract and profile are computed from it.
        """
        validate_name(name, "dataset name")
        with tempfile.TemporaryDirectory(prefix="shipyard-data-") as scratch:
            if isinstance(data, str | Path):
                source_path = Path(data)
                if not source_path.is_file():
                    raise InvalidInput(
                        f"data file {str(source_path)!r} does not exist or is not a regular file"
                    )
                table_format = detect_format(source_path, format)
                local = Path(scratch) / f"data.{table_format}"
                shutil.copyfile(source_path, local)
                source = source_path.name
            else:
                table_format = "parquet"
                local = Path(scratch) / "data.parquet"
                write_parquet(as_frame(data), local)
                source = f"<{type(data).__name__}>"
            sha256 = _sha256(local)
            existing = self._find(name, sha256)
            if existing is not None:
                return replace(existing, created=False)
            frame = read_table(local, table_format)
            contract, profile, notes = describe_table(frame, csv=table_format == "csv")
            artifact = self.artifacts.put_file(local)

        def work(session: Session) -> int:
            row, _ = lock_or_create_named(
                session, DatasetRow, name, {"created_at": _now(), "created_by": self.actor}
            )
            number = next_version(session, DatasetRow, row.id)
            session.add(
                DatasetVersionRow(
                    dataset_id=row.id,
                    version=number,
                    sha256=artifact.sha256,
                    size=artifact.size,
                    format=table_format,
                    rows=len(frame),
                    columns=frame.shape[1],
                    contract=contract.to_dict(),
                    profile=profile.to_dict(),
                    source=source,
                    notes=notes,
                    created_at=_now(),
                    created_by=self.actor,
                )
            )
            after = {"sha256": artifact.sha256, "rows": len(frame), "format": table_format}
            record_audit(
                session,
                actor=self.actor,
                action="dataset.add",
                target=f"dataset:{name}/{number}",
                after=after,
                reason=reason,
            )
            return number

        try:
            number = self.db.write(work)
        except DatabaseIntegrityError:
            # Another process added the same content under this name a moment ago: that version is ours too.
            found = self._find(name, sha256)
            if found is None:
                raise
            return replace(found, created=False)
        return self.get(f"{name}/{number}")

    def get(self, ref: str) -> DatasetVersion:
        """A dataset version by ``name/3``, or the newest by ``name``."""
        parsed = ModelRef.parse(ref)
        if parsed.alias is not None:
            raise InvalidInput(f"datasets have no aliases; use 'name' or 'name/3', got {ref!r}")
        with self.db.reading() as session:
            dataset = select_named(session, DatasetRow, parsed.model)
            if dataset is None:
                names = session.execute(select(DatasetRow.name)).scalars().all()
                raise not_found("dataset", parsed.model, candidates=names, list_command="shipyard data list")
            query = select(DatasetVersionRow).where(DatasetVersionRow.dataset_id == dataset.id)
            if parsed.version is not None:
                query = query.where(DatasetVersionRow.version == parsed.version)
            else:
                query = query.order_by(DatasetVersionRow.version.desc()).limit(1)
            row = session.execute(query).scalar_one_or_none()
            if row is None:
                last = dataset.last_version
                raise NotFound(
                    f"dataset {parsed.model!r} has no version {parsed.version} (versions 1–{last})"
                )
            return _entity(row, dataset.name)

    def find_by_hash(self, sha256: str) -> DatasetVersion | None:
        """The oldest dataset version holding exactly these bytes, if any (used to reproduce training)."""
        with self.db.reading() as session:
            found = session.execute(
                select(DatasetVersionRow, DatasetRow.name)
                .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
                .where(DatasetVersionRow.sha256 == sha256)
                .order_by(DatasetVersionRow.id)
                .limit(1)
            ).first()
            return _entity(found[0], found[1]) if found else None

    def list(self, name: str | None = None) -> list[DatasetVersion]:
        """Every dataset version (or every version of one dataset), by name then version."""
        with self.db.reading() as session:
            query = select(DatasetVersionRow, DatasetRow.name).join(
                DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id
            )
            if name is not None:
                if select_named(session, DatasetRow, name) is None:
                    names = session.execute(select(DatasetRow.name)).scalars().all()
                    raise not_found("dataset", name, candidates=names, list_command="shipyard data list")
                query = query.where(DatasetRow.name == name)
            rows = session.execute(query.order_by(DatasetRow.name, DatasetVersionRow.version)).all()
            return [_entity(row, dataset_name) for row, dataset_name in rows]

    def load(self, ref: str | DatasetVersion) -> pd.DataFrame:
        """The version's table, read from the artifact store after verifying its hash."""
        version = ref if isinstance(ref, DatasetVersion) else self.get(ref)
        with tempfile.TemporaryDirectory(prefix="shipyard-data-") as scratch:
            local = Path(scratch) / f"data.{version.format}"
            self.artifacts.fetch(
                ArtifactInfo(version.sha256, version.size), local, owner=f"dataset {version.ref}"
            )
            return read_table(local, version.format)

    def _find(self, name: str, sha256: str) -> DatasetVersion | None:
        with self.db.reading() as session:
            found = session.execute(
                select(DatasetVersionRow)
                .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
                .where(DatasetRow.name == name, DatasetVersionRow.sha256 == sha256)
            ).scalar_one_or_none()
            return _entity(found, name) if found is not None else None


def describe_table(frame: pd.DataFrame, *, csv: bool = False) -> tuple[Contract, Profile, dict[str, Any]]:
    """Contract, profile and notes (columns that could not be typed, CSV type breaks) of a table."""
    if frame.empty:
        raise InvalidInput("the table has no rows; there is nothing to version")
    notes: dict[str, Any] = {}
    all_null = [str(name) for name in frame.columns if frame[name].isna().all()]
    if all_null:
        notes["all_null_columns"] = all_null
    if csv:
        breaks = csv_type_breaks(frame)
        if breaks:
            notes["type_breaks"] = {column: rows[:_SHOWN_ROWS] for column, rows in breaks.items()}
            notes["type_break_counts"] = {column: len(rows) for column, rows in breaks.items()}
    contract = Contract.infer(frame, exclude=all_null)
    profile = Profile.build(frame)
    return contract, profile, notes


def describe_type_breaks(notes: dict[str, Any]) -> list[str]:
    """Human sentences for the CSV type breaks recorded in a version's notes."""
    sentences = []
    for column, rows in (notes.get("type_breaks") or {}).items():
        total = notes.get("type_break_counts", {}).get(column, len(rows))
        shown = ", ".join(str(row + 2) for row in rows)  # +2: a header line, and 1-based line numbers
        more = f" and {total - len(rows)} more" if total > len(rows) else ""
        sentences.append(
            f"column {column!r} is mostly numbers but has text on CSV line(s) {shown}{more}; "
            "it was read as text"
        )
    return sentences


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


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
