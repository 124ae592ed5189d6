"""The ``shipyard`` command line: a thin layer that parses, calls the Python API, and prints.

``run`` is the console script. Before it imports the command line (Typer and every command: 0.2 s), it
gives ``shipyard serve --workers N`` its fork server (``head_start``); ``main`` and ``app`` are imported on
first use.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from shipyard._lazy_exports import lazy_exports

if TYPE_CHECKING:
    from shipyard.cli._main import UNEXPECTED_EXIT, main
    from shipyard.cli.app import app

__all__ = ["UNEXPECTED_EXIT", "app", "main", "run"]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(
        __name__, {"shipyard.cli._main": ("UNEXPECTED_EXIT", "main"), "shipyard.cli.app": ("app",)}
    )


def run() -> None:  # pragma: no cover - console script shim
    from shipyard.cli.head_start import start_fork_server_early

    start_fork_server_early(sys.argv[1:])
    from shipyard._collector import collect_rarely
    from shipyard.cli._main import main

    collect_rarely()  # the process is the command's own (``main`` is also called inside other processes)
    sys.exit(main())
