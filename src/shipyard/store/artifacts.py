"""Content-addressed artifact storage on any fsspec filesystem.

An artifact is stored once under its sha256 (``objects/ab/cdef…``), so identical models share bytes and a
stored object can never be silently replaced. Writes are atomic: on a local disk bytes go to a temporary
file that is renamed into place; on an object store (``s3://``) they stream up as a multipart upload, which
the store shows under its key only once completed, and which is aborted if the copy fails or the file
changed since it was hashed. Every read streams the bytes, re-hashes them and raises ``IntegrityError`` when
they differ from what the registry recorded.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from fsspec.implementations.local import LocalFileSystem

from shipyard.errors import IntegrityError
from shipyard.store.filesystems import named_failures, open_filesystem
from shipyard.store.object_stores import PART_SIZE

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ArtifactInfo:
    """Where a stored artifact is and what it must hash to."""

    sha256: str
    size: int


class ArtifactStore:
    """Content-addressed blobs under one root URL (``file:///…`` or a plain path; ``s3://bucket/prefix``)."""

    def __init__(self, url: str, **storage_options: object) -> None:
        self.url = url
        self.fs, self.root = open_filesystem(url, "artifact store", **storage_options)
        self._local = isinstance(self.fs, LocalFileSystem)
        if self._local:
            Path(self.root, "objects").mkdir(parents=True, exist_ok=True)
            Path(self.root, "tmp").mkdir(parents=True, exist_ok=True)

    def object_path(self, sha256: str) -> str:
        """The path, inside the filesystem, where the object with this hash lives."""
        return f"{self.root}/objects/{sha256[:2]}/{sha256[2:]}"

    def exists(self, sha256: str) -> bool:
        return bool(self.fs.exists(self.object_path(sha256)))

    def put_file(self, path: Path) -> ArtifactInfo:
        """Store the file's bytes (once per distinct content) and return their hash and size."""
        if self._local:
            return self._put_local(path)
        sha256, size = _hash_file(path)
        if not self.exists(sha256):
            self._upload(path, ArtifactInfo(sha256, size))
        return ArtifactInfo(sha256, size)

    def _put_local(self, path: Path) -> ArtifactInfo:
        digest = hashlib.sha256()
        size = 0
        temporary = Path(self.root, "tmp", f"{uuid.uuid4().hex}.part")
        try:
            with open(path, "rb") as source, open(temporary, "wb") as target:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    target.write(chunk)
                target.flush()
                os.fsync(target.fileno())
            sha256 = digest.hexdigest()
            final = Path(self.object_path(sha256))
            if final.exists() and final.stat().st_size == size:
                return ArtifactInfo(sha256, size)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temporary, final)  # atomic on one filesystem: readers see all bytes or none
            return ArtifactInfo(sha256, size)
        finally:
            temporary.unlink(missing_ok=True)

    def _upload(self, path: Path, expected: ArtifactInfo) -> None:
        """Stream the file up in parts, hashing again on the way: if it changed since it was hashed, the
        upload is aborted and nothing appears under the key, which must only ever hold those bytes."""
        digest = hashlib.sha256()
        size = 0
        key = self.object_path(expected.sha256)
        with named_failures(self.fs, key), open(path, "rb") as source, self.fs.open(key, "wb") as target:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                target.write(chunk)
            if (digest.hexdigest(), size) != (expected.sha256, expected.size):
                raise IntegrityError(
                    f"{path} changed while it was being stored ({expected.size} bytes when hashed, {size} "
                    "when uploaded); nothing was stored: store it again once it is no longer being written"
                )

    def fetch(self, info: ArtifactInfo, destination: Path, *, owner: str) -> Path:
        """Copy the object to ``destination``, verifying size and hash; ``owner`` names it in errors."""
        try:
            with open(destination, "wb") as target:
                self._read_verified(info, target, owner=owner)
        except IntegrityError:
            destination.unlink(missing_ok=True)
            raise
        return destination

    def verify(self, info: ArtifactInfo, *, owner: str) -> None:
        """Re-hash a stored object without keeping a copy; raise IntegrityError when it differs."""
        self._read_verified(info, None, owner=owner)

    def _read_verified(self, info: ArtifactInfo, target: BinaryIO | None, *, owner: str) -> None:
        digest = hashlib.sha256()
        size = 0
        try:
            source: BinaryIO = self.fs.open(self.object_path(info.sha256), "rb", block_size=PART_SIZE)
        except FileNotFoundError:
            raise IntegrityError(
                f"the artifact of {owner} (sha256 {info.sha256[:12]}…) is missing from {self.url}; "
                "restore the artifact store from a backup"
            ) from None
        with named_failures(self.fs, self.object_path(info.sha256)), source:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if target is not None:
                    target.write(chunk)
        if size != info.size or digest.hexdigest() != info.sha256:
            raise IntegrityError(
                f"the artifact of {owner} is corrupted: its bytes hash to {digest.hexdigest()[:12]}… "
                f"({size} bytes) but the registry recorded {info.sha256[:12]}… ({info.size} bytes); "
                "restore it from a backup or register the model again"
            )

    def copy_out(self, info: ArtifactInfo, destination: Path, *, owner: str) -> Path:
        """Export a verified copy to a user path (the opposite of registration)."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".part")
        self.fetch(info, partial, owner=owner)
        shutil.move(partial, destination)
        return destination


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
