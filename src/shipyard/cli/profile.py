"""``shipyard profile``: give a registered version the reference profile drift monitoring compares with."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli import render
from shipyard.cli.common import JsonFlag, ReasonOption, open_registry

profile_app = typer.Typer(
    help="Reference profiles: what drift monitoring compares with.", no_args_is_help=True
)


@profile_app.command("build")
def profile_build(
    reference: Annotated[str, typer.Argument(help="The version: fraud/3, fraud@production.")],
    data: Annotated[Path, typer.Argument(help="The training data (CSV or Parquet), or a sample of it.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the profile the version already has.")
    ] = False,
    trust: Annotated[
        bool, typer.Option("--trust", help="Load formats that run code when loaded (generic Python).")
    ] = False,
    reason: ReasonOption = "",
    as_json: JsonFlag = False,
) -> None:
    """Profile DATA (checked against the version's contract, with the model's predictions on it) as the
    version's reference profile."""
    with open_registry(changes=True) as registry:
        version = registry.build_profile(reference, data, replace=replace, trust=trust, reason=reason)
    profile = version.profile or {}
    columns = list((profile.get("layout") or {}).get("columns") or {})
    if as_json:
        render.emit_json({"ref": version.ref, "rows": profile.get("rows"), "columns": columns})
        return
    render.message(
        "{} has a reference profile of {} rows ({} columns: {}); drift is monitored from the next window",
        version.ref,
        f"{profile.get('rows', 0):,}",
        len(columns),
        ", ".join(columns),
    )
