"""Copying stored files from one storage root to another, each one verified where it lands.

Two kinds of files move with a workspace. Artifacts are content-addressed: each is read from the source
(its hash checked there, so a damaged source is reported, never spread), stored at the destination through
the ``ArtifactStore`` (atomic: a temporary file renamed, or a multipart upload completed only when whole),
and read back there to check its hash again. Prediction-log segments are immutable files under a folder
tree: each is copied to the same relative path, written under a temporary name first on a local disk (a
name log readers skip) and re-hashed at the destination.

Files already at the destination with the same bytes are skipped, so a copy can be run again, and finishes
what an interrupted one began; a destination file with other bytes under the same name is refused.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from fsspec.implementations.local import LocalFileSystem

from shipyard.errors import ConfigurationError, Conflict, IntegrityError, ShipyardError, Unavailable
from shipyard.store.artifacts import ArtifactInfo, ArtifactStore
from shipyard.store.filesystems import named_failures, open_filesystem
from shipyard.store.table_copy import StoredArtifact

_CHUNK = 1 << 20
Progress = Callable[[str], None]


@dataclass(frozen=True)
class FileCount:
    """Files of one kind: how many the source has, how many were copied, how many were already there
    (identical), and how many bytes were copied. ``in_place``: source and destination are the same root."""

    kind: str
    source: int
    copied: int
    present: int
    bytes_copied: int
    in_place: bool = False

    @property
    def complete(self) -> bool:
        return self.copied + self.present == self.source

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "copied": self.copied,
            "already_there": self.present,
            "bytes_copied": self.bytes_copied,
            "in_place": self.in_place,
        }


def copy_artifacts(
    source: ArtifactStore,
    destination: ArtifactStore,
    artifacts: Iterable[StoredArtifact],
    progress: Progress | None = None,
) -> FileCount:
    """Copy each artifact the destination lacks and verify every one there (copied or found)."""
    wanted = list(artifacts)
    copied = present = copied_bytes = 0
    with tempfile.TemporaryDirectory(prefix="shipyard-move-") as scratch:
        for index, artifact in enumerate(wanted, 1):
            info = ArtifactInfo(artifact.sha256, artifact.size)
            if destination.exists(artifact.sha256):
                _verify_at_destination(destination, info, artifact.owner)
                present += 1
                continue
            local = source.fetch(info, Path(scratch, artifact.sha256), owner=artifact.owner)
            stored = destination.put_file(local)
            local.unlink()
            if stored != info:  # pragma: no cover - the source's fetch verified these very bytes
                raise IntegrityError(f"the artifact of {artifact.owner} changed while it was copied")
            _verify_at_destination(destination, info, artifact.owner)
            copied += 1
            copied_bytes += artifact.size
            if progress is not None and index % 100 == 0:
                progress(f"artifacts: {index} of {len(wanted)} verified at the destination")
    return FileCount("artifacts", len(wanted), copied, present, copied_bytes)


def _verify_at_destination(destination: ArtifactStore, info: ArtifactInfo, owner: str) -> None:
    try:
        destination.verify(info, owner=owner)
    except IntegrityError as error:
        raise IntegrityError(
            f"the destination's copy of the artifact of {owner} ({destination.object_path(info.sha256)}) "
            f"is damaged: delete that object and run the move again ({error})"
        ) from None


def copy_tree(
    source_url: str, destination_url: str, kind: str, *, skip_suffix: str, progress: Progress | None = None
) -> FileCount:
    """Copy every file under ``source_url`` (but those ending in ``skip_suffix``, files being written) to
    the same relative path under ``destination_url``, verified by hash; the same root is left in place."""
    source_fs, source_root = open_filesystem(source_url, kind)
    target_fs, target_root = open_filesystem(destination_url, kind)
    names = _files(source_fs, source_root, skip_suffix)
    if type(source_fs) is type(target_fs) and source_root == target_root:
        return FileCount(kind, len(names), 0, len(names), 0, in_place=True)
    copied = present = copied_bytes = 0
    for index, name in enumerate(names, 1):
        source_path, target_path = f"{source_root}/{name}", f"{target_root}/{name}"
        expected = _hash(source_fs, source_path)
        if target_fs.exists(target_path):
            if _hash(target_fs, target_path) != expected:
                raise Conflict(
                    f"the destination's {kind} already has {name} with other bytes than the workspace being "
                    f"moved: move it to an empty {kind} root, or remove that file"
                )
            present += 1
            continue
        copied_bytes += _copy_file(source_fs, source_path, target_fs, target_path, skip_suffix)
        if _hash(target_fs, target_path) != expected:
            raise IntegrityError(f"{name} differs at the destination's {kind} after it was copied; run again")
        copied += 1
        if progress is not None and index % 500 == 0:
            progress(f"{kind}: {index} of {len(names)} files verified at the destination")
    return FileCount(kind, len(names), copied, present, copied_bytes)


def _files(fs: Any, root: str, skip_suffix: str) -> list[str]:
    """The relative names of the files under ``root``, sorted; none when the root does not exist."""
    with named_failures(fs, root):
        if not fs.exists(root):
            return []
        found = fs.find(root)
    prefix = root.rstrip("/") + "/"
    return sorted(
        path[len(prefix) :] for path in found if path.startswith(prefix) and not path.endswith(skip_suffix)
    )


def _copy_file(source_fs: Any, source_path: str, target_fs: Any, target_path: str, temporary: str) -> int:
    """Stream one file across; on a local disk under a temporary name renamed into place when whole."""
    local = isinstance(target_fs, LocalFileSystem)
    written_path = f"{target_path}.{uuid.uuid4().hex[:8]}{temporary}" if local else target_path
    if local:
        target_fs.makedirs(target_path.rsplit("/", 1)[0], exist_ok=True)
    size = 0
    try:
        with (
            named_failures(target_fs, target_path),
            source_fs.open(source_path, "rb") as source,
            target_fs.open(written_path, "wb") as target,
        ):
            while chunk := source.read(_CHUNK):
                target.write(chunk)
                size += len(chunk)
        if local:
            target_fs.mv(written_path, target_path)
    except BaseException:
        if local and target_fs.exists(written_path):
            target_fs.rm_file(written_path)
        raise
    return size


def _hash(fs: Any, path: str) -> str:
    digest = hashlib.sha256()
    with named_failures(fs, path), fs.open(path, "rb") as handle:
        stream: BinaryIO = handle
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def prepare_root(url: str, what: str) -> None:
    """Make sure a storage root can hold data before a workspace is pointed at it: a local folder is
    created; then a probe object is written, read back and deleted (on an object store, the bucket must
    exist: shipyard never creates buckets). ``Unavailable`` or ``ConfigurationError`` names what failed."""
    fs, root = open_filesystem(url, what)
    probe = f"{root}/.shipyard-init-{uuid.uuid4().hex}.probe"
    step = "create"
    try:
        with named_failures(fs, root):
            if isinstance(fs, LocalFileSystem):
                fs.makedirs(root, exist_ok=True)
            else:
                _require_bucket(fs, root, what, url)
            step = "write"
            fs.pipe_file(probe, b"shipyard init probe\n")
            step = "read back"
            if fs.cat_file(probe) != b"shipyard init probe\n":
                raise Unavailable(f"the {what} at {url} returned other bytes than were written to it")
            step = "delete"
            fs.rm_file(probe)
    except ShipyardError:
        raise
    except Exception as error:
        text = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise Unavailable(
            f"cannot {step} a probe object in the {what} at {url} ({type(error).__name__}: {text}): make "
            "it reachable and writable for this user, or choose another"
        ) from None


def _require_bucket(fs: Any, root: str, what: str, url: str) -> None:
    """Refuse a bucket that does not exist: some S3-compatible stores create one on the first write, which
    would hide a mistyped name behind an empty new bucket."""
    bucket = root.split("/", 1)[0]
    if not fs.exists(bucket):
        raise ConfigurationError(
            f"the {what}'s bucket {bucket!r} ({url}) does not exist: create it, or choose another "
            "(shipyard never creates buckets)"
        )
