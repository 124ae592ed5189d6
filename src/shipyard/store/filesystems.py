"""One way to open a storage URL (a path, ``file://``, ``s3://``…) as an fsspec filesystem and a root path.

``s3://`` URLs open through ``object_stores`` with the workspace's object-store settings, which a
``StorageURL`` from ``Settings`` carries (a plain string gets the defaults: bounded timeouts and retries,
endpoint and credentials from the standard AWS variables).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import fsspec

from shipyard.config import ObjectStoreSettings, StorageURL
from shipyard.errors import ConfigurationError, MissingDependency, ShipyardError

_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure"}
_OBJECT_STORES = {"s3", "s3a"}


def open_filesystem(url: str, what: str, **storage_options: object) -> tuple[Any, str]:
    """``(filesystem, root)`` for ``url``; a scheme whose fsspec driver is missing names shipyard's extra."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme in _OBJECT_STORES:
        from shipyard.store.object_stores import open_s3

        settings = url.object_store if isinstance(url, StorageURL) else ObjectStoreSettings()
        return open_s3(str(url), settings, **storage_options)
    try:
        fs, root = fsspec.core.url_to_fs(url, **storage_options)
    except ImportError as exc:
        extra = _EXTRAS.get(scheme, scheme)
        raise MissingDependency(str(exc.name or scheme), extra, f"the {scheme}:// {what}") from exc
    except ValueError as exc:
        raise ConfigurationError(f"{what} URL {url!r} is not usable: {exc}") from None
    return fs, str(root).rstrip("/")


@contextmanager
def named_failures(fs: Any, path: str) -> Iterator[None]:
    """Raise an object store's failure inside the block (the store went down while a body streamed) as
    shipyard's error naming the bucket and endpoint; other errors, and other filesystems', pass unchanged."""
    try:
        yield
    except ShipyardError:
        raise
    except Exception as error:
        describe = getattr(fs, "failure", None)
        failure = describe(error, path.split("/", 1)[0]) if describe is not None else None
        if failure is None:
            raise
        raise failure from error
