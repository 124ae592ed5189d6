"""``shipyard example``: write an example shipped inside the package into a folder, ready to train."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli import render
from shipyard.cli.common import JsonFlag
from shipyard.examples import EXAMPLES, write_example


def example_command(
    name: Annotated[
        str | None, typer.Argument(help="The example to write; omit it to list them.", show_default=False)
    ] = None,
    directory: Annotated[
        Path | None, typer.Argument(help="Folder to write it into (default: a new folder named after it).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that exist already.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Write an example's training spec and data into a folder; `shipyard train spec.toml` there trains it."""
    if name is None:
        if as_json:
            render.emit_json([{"name": key, "holds": value} for key, value in EXAMPLES.items()])
        else:
            render.table(None, ["example", "holds"], EXAMPLES.items())
        return
    target = directory if directory is not None else Path(name)
    written = write_example(name, target, overwrite=force)
    if as_json:
        files = [path.name for path in written]
        render.emit_json({"example": name, "directory": str(target.resolve()), "files": files})
        return
    render.message("wrote the {} example to {}: {}", name, target, ", ".join(p.name for p in written))
    render.message("  next: cd {} && shipyard train spec.toml", target)
