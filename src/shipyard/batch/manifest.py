"""The output folder's manifest: what a batch run is, which chunks are finished, and whether it is complete.

Layout of an output folder::

    _manifest.json                          the run: id, model version, inputs and their hashes, chunks done
    part-<file>-<chunk>.parquet|csv         the predictions of one chunk, written whole (temporary name, then
                                            renamed), so a part file either is complete or does not exist
    rejects/part-<file>-<chunk>.parquet     the rows of that chunk that could not be scored, and why
    _SUCCESS                                written last, once every chunk is done: the output is complete

A chunk counts as finished only once the manifest lists it, and the manifest is rewritten whole (again a
temporary file renamed) after each chunk. A job killed at any moment leaves at worst a part file the
manifest does not list; the next run with the same id writes it again, identically.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.errors import Conflict, InvalidInput

MANIFEST = "_manifest.json"
SUCCESS = "_SUCCESS"
REJECTS = "rejects"


@dataclass
class Manifest:
    run_id: str
    model: str
    version: int
    reference: str
    inputs: list[dict[str, Any]]
    chunk_rows: int
    format: str
    key_columns: list[str] | None
    created_at: str
    status: str = "running"
    #: The input column whose times the logged rows carry (None: the run's start).
    timestamp_column: str | None = None
    chunks: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        return cls(**data)

    def same_job(self, other: Manifest) -> list[str]:
        """What differs between this run and ``other`` that a resume cannot carry over (empty: nothing)."""
        differences = []
        if (self.model, self.version) != (other.model, other.version):
            differences.append(f"model {self.model}/{self.version} vs {other.model}/{other.version}")
        if [(i["path"], i["sha256"]) for i in self.inputs] != [
            (i["path"], i["sha256"]) for i in other.inputs
        ]:
            differences.append("the input files or their contents")
        for name in ("chunk_rows", "format", "key_columns", "timestamp_column"):
            if getattr(self, name) != getattr(other, name):
                differences.append(f"{name} {getattr(self, name)!r} vs {getattr(other, name)!r}")
        return differences


def read_manifest(folder: Path) -> Manifest | None:
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        return Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as error:
        raise InvalidInput(
            f"{path} is not a batch manifest shipyard can read ({error}); use a new folder"
        ) from None


def write_manifest(folder: Path, manifest: Manifest) -> None:
    write_atomically(folder / MANIFEST, json.dumps(manifest.to_dict(), indent=1, sort_keys=True).encode())


def write_atomically(path: Path, content: bytes) -> None:
    """Write ``content`` to a temporary name in the same folder, flush it to disk, then rename it."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(temporary, "wb") as target:
        target.write(content)
        target.flush()
        os.fsync(target.fileno())
    os.replace(temporary, path)


def _temporary(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(".tmp")


def remove_leftovers(folder: Path) -> int:
    """Delete the temporary files a killed run left half-written (never listed, never read)."""
    removed = 0
    for pattern in (".*.tmp", f"{REJECTS}/.*.tmp"):
        for path in folder.glob(pattern):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def resume_or_start(folder: Path, fresh: Manifest, run_id_given: bool) -> Manifest:
    """The manifest to carry on with: the folder's, when it holds this same run; else ``fresh``.

    A folder that holds another run, or this run with other inputs or another model version, is refused:
    mixing them would present two jobs' rows as one output.
    """
    existing = read_manifest(folder)
    if existing is None:
        if folder.exists() and any(p.name != REJECTS and not _temporary(p) for p in folder.iterdir()):
            raise Conflict(
                f"the output folder {folder} is not empty and holds no batch run; choose another one"
            )
        return fresh
    if existing.run_id != fresh.run_id:
        hint = (
            f"pass --run-id {existing.run_id} to resume it"
            if existing.status != "succeeded"
            else "it is complete"
        )
        if not run_id_given and existing.status != "succeeded":
            raise Conflict(
                f"{folder} holds the unfinished run {existing.run_id}: {hint}, or choose another folder"
            )
        raise Conflict(f"{folder} holds the run {existing.run_id} ({hint}); choose another folder")
    differences = existing.same_job(fresh)
    if differences:
        raise Conflict(
            f"run {existing.run_id} in {folder} was started with other settings ({'; '.join(differences)}): "
            "it cannot be resumed with these; start a new run in another folder"
        )
    return existing
