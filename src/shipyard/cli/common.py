"""What every command module shares: the global options' state, the registry they open, option types."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from shipyard.registry import Registry


@dataclass
class CliState:
    home: Path | None = None
    debug: bool = False


state = CliState()

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ReasonOption = Annotated[str, typer.Option("--reason", "-r", help="Why; recorded in the audit trail.")]


def open_registry(*, changes: bool = False) -> Registry:
    """The registry of the workspace chosen by --home / $SHIPYARD_HOME / the nearest .shipyard.

    A command that ``changes`` the workspace names it first, on stderr: the nearest ``.shipyard`` may be in
    a parent folder, and a version registered in a workspace the user did not mean is a wrong turn that
    only shows later, as unexpected version numbers.
    """
    registry = Registry(home=state.home)
    if changes:
        sys.stderr.write(f"workspace: {registry.settings.home}\n")
    return registry
