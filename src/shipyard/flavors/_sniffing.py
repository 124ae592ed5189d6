"""Recognising a saved model file from its bytes, without running anything in it.

``flavor_for_file`` asks every flavor whether it accepts a file; each answer must be cheap and safe on any
input a user might point at (a directory, an empty file, a 4 GB pickle, random bytes). These readers never
raise: an unreadable file simply is not of that format, and the caller reports what it expected instead.
"""

from __future__ import annotations

import zipfile
from pathlib import Path


def read_head(path: Path, size: int = 64) -> bytes:
    """The first ``size`` bytes of ``path``, or ``b""`` when it cannot be read as a file."""
    try:
        with path.open("rb") as stream:
            return stream.read(size)
    except OSError:
        return b""


def zip_member_names(path: Path) -> list[str] | None:
    """The member names of a zip archive, or None when ``path`` is not a readable zip file."""
    try:
        if not zipfile.is_zipfile(path):
            return None
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return None
