"""``shipyard doctor``: check the workspace (database, artifact store, prediction log, every alias target)
and say what to fix. Exit code 0 when everything is healthy, 1 when a check found a problem."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli import render
from shipyard.cli.common import JsonFlag, require_workspace, state

if TYPE_CHECKING:
    from shipyard.registry.doctor import HealthReport

#: The exit code when a check found a problem (a check that could not run at all is a problem too).
PROBLEM_EXIT = 1


def doctor_command(
    models: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", metavar="NAME", help="Examine only this model (repeat for several)."),
    ] = None,
    load: Annotated[
        bool,
        typer.Option(
            "--load/--no-load",
            help="Load each model as a server would and run it on its hold-out rows (--no-load: check "
            "artifacts' presence and hash only).",
        ),
    ] = True,
    all_versions: Annotated[
        bool, typer.Option("--all-versions", help="Check every version, not only the alias targets.")
    ] = False,
    trust: Annotated[
        bool, typer.Option("--trust", help="Load formats that run code when loaded, as 'serve --trust'.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Print every check, not only problems.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Check that the workspace can serve what its aliases point at: the metadata database (reachable,
    migrated), the artifact store (writable), the prediction log, and every alias target (artifact present,
    hash right, model loads). One line per problem with what to do; exit code 1 on any problem."""
    from shipyard.config import load_settings
    from shipyard.registry.doctor import DoctorOptions, examine_workspace

    require_workspace()
    options = DoctorOptions(models=tuple(models or ()), load=load, trust=trust, all_versions=all_versions)
    report = examine_workspace(load_settings(state.home), options)
    if as_json:
        render.emit_json(report.to_dict())
    else:
        _print(report, verbose=verbose)
    if not report.ok:
        raise typer.Exit(PROBLEM_EXIT)


def _print(report: HealthReport, *, verbose: bool) -> None:
    for check in report.checks:
        if check.status == "problem":
            render.message("[bold red]problem:[/] {}: {}; {}", check.subject, check.detail, check.fix)
        elif check.status == "skipped":
            render.message("[yellow]skipped:[/] {}: {}", check.subject, check.detail)
        elif verbose:
            render.message("[green]ok:[/] {}: {}", check.subject, check.detail)
    if not report.ok:
        count = len(report.problems)
        render.message("{} problem{} in the workspace at {}", count, "" if count == 1 else "s", report.home)
        return
    versions = len(report.versions)
    render.message(
        "[green]ok:[/] the workspace at {} is healthy: database migrated, artifact store writable, "
        "prediction log reachable, {} version{} {}",
        report.home,
        versions,
        "" if versions == 1 else "s",
        "verified and loaded" if report.loaded else "verified (not loaded: --no-load)",
    )
