"""Probes of a storage root (the artifact store, the prediction log): can it be reached, can it be written?

``shipyard doctor`` asks before anything else relies on the answer. A probe writes one small object beside
the data (never inside ``objects/`` or a log stream, so no reader ever meets it), reads it back and deletes
it: the same operations registration and the log writer perform, on any fsspec filesystem.
"""

from __future__ import annotations

import uuid

from fsspec.implementations.local import LocalFileSystem

from shipyard.errors import NotFound, Unavailable
from shipyard.store.filesystems import open_filesystem

_PROBE = b"shipyard doctor probe\n"


def root_exists(url: str, what: str) -> bool:
    """Whether the root folder of ``url`` exists (on an object store: its bucket); ``Unavailable`` when the
    storage does not answer, or the root is a file."""
    fs, root = open_filesystem(url, what)
    try:
        if not isinstance(fs, LocalFileSystem):
            # An object store has no folders: a prefix exists once something is stored under it, so a new
            # workspace's is missing until then. Its bucket is what must exist.
            return bool(fs.exists(root.split("/", 1)[0]))
        if not fs.exists(root):
            return False
        if not fs.isdir(root):
            raise Unavailable(f"the {what} root {root} is a file, not a folder")
    except Unavailable:
        raise
    except Exception as error:  # any driver's failure (network, credentials, permissions) means: unreachable
        raise Unavailable(f"the {what} at {url} does not answer ({_describe(error)})") from None
    return True


def probe_writable(url: str, what: str) -> None:
    """Write, read back and delete a probe object under the root of ``url``.

    Raises ``NotFound`` when the root does not exist, ``Unavailable`` naming the step that failed otherwise.
    """
    if not root_exists(url, what):
        raise NotFound(f"the {what} folder {url} does not exist")
    fs, root = open_filesystem(url, what)
    path = f"{root}/.shipyard-doctor-{uuid.uuid4().hex}.probe"
    step = "write"
    try:
        fs.pipe_file(path, _PROBE)
        step = "read back"
        if fs.cat_file(path) != _PROBE:
            raise Unavailable(f"the {what} at {url} returned other bytes than were written to it")
        step = "delete"
        fs.rm_file(path)
    except Unavailable:
        raise
    except Exception as error:
        raise Unavailable(
            f"cannot {step} a probe object in the {what} at {url} ({_describe(error)})"
        ) from None


def _describe(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
