"""What every command module shares: the global options' state, the registry they open, option types."""

from __future__ import annotations

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


def open_registry() -> Registry:
    """The registry of the workspace chosen by --home / $SHIPYARD_HOME / the nearest .shipyard."""
    return Registry(home=state.home)
