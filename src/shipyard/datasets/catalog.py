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
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from shipyard.contracts import Contract
from shipyard.datasets.reading import as_frame, csv_type_breaks, detect_format, read_table, write_parquet
from shipyard.errors import InvalidInput
from shipyard.refs import ModelRef, validate_name
from shipyard.stats import Profile
from shipyard.store.artifacts import ArtifactInfo, ArtifactStore
from shipyard.store.database import Database
from shipyard.store.datasets import DatasetRepository, DatasetVersion, NewDatasetVersion

_SHOWN_ROWS = 10


class DatasetCatalog:
    """Dataset versions of one workspace (reach it as ``Registry().datasets``)."""

    def __init__(self, db: Database, artifacts: ArtifactStore, actor: str) -> None:
        self.db = db
        self.artifacts = artifacts
        self.actor = actor
        self._store = DatasetRepository(db, actor)

    def add(
        self,
        name: str,
        data: Any,
        *,
        format: str | None = None,
        reason: str = "",
        source: str | None = None,
        notes: dict[str, Any] | None = None,
    ) -> DatasetVersion:
        """Store ``data`` (a CSV/Parquet path, a DataFrame or a pyarrow Table) as a version of ``name``.

        Identical content under the same name returns the existing version (``created`` is False), with the
        source and notes it was first stored with. The caller's file is read once, into scratch space; the
        contract and profile are computed from it. ``source`` replaces the default (the file's name, or the
        table's type) and ``notes`` (such as ``{"lineage": …}``) join the notes computed from the table.
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
                default_source = source_path.name
            else:
                table_format = "parquet"
                local = Path(scratch) / "data.parquet"
                write_parquet(as_frame(data), local)
                default_source = f"<{type(data).__name__}>"
            sha256 = _sha256(local)
            existing = self._store.find(name, sha256)
            if existing is not None:
                return replace(existing, created=False)
            frame = read_table(local, table_format)
            contract, profile, computed = describe_table(frame, csv=table_format == "csv")
            artifact = self.artifacts.put_file(local)

        new = NewDatasetVersion(
            sha256=artifact.sha256,
            size=artifact.size,
            format=table_format,
            rows=len(frame),
            columns=frame.shape[1],
            contract=contract,
            profile=profile,
            source=default_source if source is None else source,
            notes={**computed, **(notes or {})},
        )
        return self._store.add(name, new, reason=reason)

    def get(self, ref: str) -> DatasetVersion:
        """A dataset version by ``name/3``, or the newest by ``name``."""
        parsed = ModelRef.parse(ref)
        if parsed.alias is not None:
            raise InvalidInput(f"datasets have no aliases; use 'name' or 'name/3', got {ref!r}")
        return self._store.get(parsed.model, parsed.version)

    def find_by_hash(self, sha256: str) -> DatasetVersion | None:
        """The oldest dataset version holding exactly these bytes, if any (used to reproduce training)."""
        return self._store.find_by_hash(sha256)

    def list(self, name: str | None = None) -> list[DatasetVersion]:
        """Every dataset version (or every version of one dataset), by name then version."""
        return self._store.versions(name)

    def load(self, ref: str | DatasetVersion) -> pd.DataFrame:
        """The version's table, read from the artifact store after verifying its hash."""
        version = ref if isinstance(ref, DatasetVersion) else self.get(ref)
        with tempfile.TemporaryDirectory(prefix="shipyard-data-") as scratch:
            local = Path(scratch) / f"data.{version.format}"
            self.artifacts.fetch(
                ArtifactInfo(version.sha256, version.size), local, owner=f"dataset {version.ref}"
            )
            return read_table(local, version.format)


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
