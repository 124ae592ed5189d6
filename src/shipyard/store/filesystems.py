"""One way to open a storage URL (a path, ``file://``, ``s3://``…) as an fsspec filesystem and a root path."""

from __future__ import annotations

from typing import Any

import fsspec

from shipyard.errors import ConfigurationError, MissingDependency

_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure"}


def open_filesystem(url: str, what: str, **storage_options: object) -> tuple[Any, str]:
    """``(filesystem, root)`` for ``url``; a scheme whose fsspec driver is missing names shipyard's extra."""
    try:
        fs, root = fsspec.core.url_to_fs(url, **storage_options)
    except ImportError as exc:
        scheme = url.split("://", 1)[0]
        extra = _EXTRAS.get(scheme, scheme)
        raise MissingDependency(str(exc.name or scheme), extra, f"the {scheme}:// {what}") from exc
    except ValueError as exc:
        raise ConfigurationError(f"{what} URL {url!r} is not usable: {exc}") from None
    return fs, str(root).rstrip("/")
