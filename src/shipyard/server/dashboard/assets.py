"""The dashboard's static files (Plotly's basic bundle, its licence, the script that draws the charts),
served from the package itself under ``STATIC_PATH``."""

from __future__ import annotations

from pathlib import Path

from starlette.staticfiles import StaticFiles

#: Where the files are, inside the installed package.
STATIC_DIR = Path(__file__).parent / "static"
#: Where pages expect them: mount ``static_files()`` here.
STATIC_PATH = "/static"


def static_files() -> StaticFiles:
    """An app serving ``STATIC_DIR`` (with ETag and Last-Modified, so browsers revalidate, not refetch)."""
    return StaticFiles(directory=STATIC_DIR)
