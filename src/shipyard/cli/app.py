"""Commands of the ``shipyard`` CLI. Each parses its arguments, calls one service function, and prints.

Building the command tree imports the command modules only: each command imports the services it calls
when it runs, so ``shipyard --version`` and ``--help`` load no database driver, pandas or pyarrow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shipyard.cicd import CiKind, check_ci_target, write_ci
from shipyard.cli import render
from shipyard.cli.access import tokens_app, users_app
from shipyard.cli.alerts import alerts_app
from shipyard.cli.batch import runs_app, score_command
from shipyard.cli.common import JsonFlag, require_workspace, state
from shipyard.cli.contract import contract_app
from shipyard.cli.control import server_command
from shipyard.cli.data import data_app
from shipyard.cli.doctor import doctor_command
from shipyard.cli.examples import example_command
from shipyard.cli.gates import gate_app, promote_command
from shipyard.cli.logs import feedback_app, logs_app
from shipyard.cli.monitor import monitor_app, report_app
from shipyard.cli.profile import profile_app
from shipyard.cli.registry import alias_app, audit_command, models_app, register_command, rollback_command
from shipyard.cli.retrain import retrain_app
from shipyard.cli.rollout import rollout_app
from shipyard.cli.schedule import schedule_app, scheduler_command
from shipyard.cli.serve import serve_command
from shipyard.cli.team import init_team, migrate_workspace_command
from shipyard.cli.training import register_training_commands
from shipyard.errors import InvalidInput

app = typer.Typer(
    name="shipyard",
    help="Take a trained ML model to production and keep it healthy there.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(models_app, name="models")
app.add_typer(alias_app, name="alias")
app.add_typer(data_app, name="data")
app.add_typer(contract_app, name="contract")
app.add_typer(gate_app, name="gate")
app.add_typer(logs_app, name="logs")
app.add_typer(feedback_app, name="feedback")
app.add_typer(monitor_app, name="monitor")
app.add_typer(report_app, name="report")
app.add_typer(profile_app, name="profile")
app.add_typer(alerts_app, name="alerts")
app.add_typer(runs_app, name="runs")
app.add_typer(rollout_app, name="rollout")
app.add_typer(retrain_app, name="retrain")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.command("score")(score_command)
app.add_typer(schedule_app, name="schedule")
app.command("scheduler")(scheduler_command)
app.command("promote")(promote_command)
app.command("serve")(serve_command)
app.command("server")(server_command)
app.command("doctor")(doctor_command)
app.command("migrate-workspace")(migrate_workspace_command)
register_training_commands(app)


def _print_and_exit(value: bool) -> None:
    if value:
        from shipyard._version import __version__

        render.message("shipyard {}", __version__)
        raise typer.Exit()


@app.callback()
def _global_options(
    home: Annotated[
        Path | None,
        typer.Option("--home", envvar="SHIPYARD_HOME", help="Workspace directory (default: ./.shipyard)."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the shipyard version and exit.", is_eager=True, callback=_print_and_exit
        ),
    ] = False,
) -> None:
    state.home = home
    state.debug = debug


# -- workspace ---------------------------------------------------------------------------------------------
@app.command()
def init(
    directory: Annotated[
        Path | None,
        typer.Argument(help="Workspace directory (default: --home, $SHIPYARD_HOME, ./.shipyard)."),
    ] = None,
    exist_ok: Annotated[bool, typer.Option("--exist-ok", help="Reuse an existing workspace.")] = False,
    team: Annotated[
        bool, typer.Option("--team", help="Point the workspace at shared services: --db, --artifacts, --log.")
    ] = False,
    db: Annotated[
        str | None,
        typer.Option("--db", metavar="URL", help="With --team: the database (postgresql+psycopg://…)."),
    ] = None,
    artifacts: Annotated[
        str | None,
        typer.Option(
            "--artifacts", metavar="URL", help="With --team: the artifact store (s3://bucket/prefix)."
        ),
    ] = None,
    log: Annotated[
        str | None,
        typer.Option(
            "--log", metavar="URL", help="With --team: the prediction log (default: <artifacts>/logs)."
        ),
    ] = None,
    ci: Annotated[
        CiKind | None,
        typer.Option("--ci", help="Also write a CI pipeline that trains, gates and promotes on main."),
    ] = None,
    spec: Annotated[
        str | None,
        typer.Option("--spec", help="Training spec the pipeline trains from (default: spec.toml)."),
    ] = None,
    alias: Annotated[
        str | None,
        typer.Option("--alias", help="Alias the pipeline gates and promotes to (default: production)."),
    ] = None,
    project_dir: Annotated[
        Path | None,
        typer.Option("--project-dir", help="Repository root to write the CI file into (default: .)."),
    ] = None,
    force_ci: Annotated[bool, typer.Option("--force-ci", help="Replace an existing CI file.")] = False,
) -> None:
    """Create a workspace with its shipyard.toml, database and artifact store; with --team, one that uses
    shared services (checked first, database migrated); with --ci, a CI file too."""
    from shipyard.registry import Registry
    from shipyard.workspace import init_workspace

    require_workspace()
    if not team and (db is not None or artifacts is not None or log is not None):
        raise InvalidInput("--db, --artifacts and --log only apply with --team")
    if ci is None and (spec is not None or alias is not None or project_dir is not None or force_ci):
        raise InvalidInput("--spec, --alias, --project-dir and --force-ci only apply with --ci github|gitlab")
    ci_spec, ci_alias, ci_root = spec or "spec.toml", alias or "production", project_dir or Path.cwd()
    if ci is not None:  # refuse a bad spec or alias, or an existing CI file, before creating anything
        check_ci_target(ci, ci_root, spec=ci_spec, alias=ci_alias, overwrite=force_ci)
    if team:
        init_team(directory or state.home, db=db, artifacts=artifacts, log=log, exist_ok=exist_ok)
    else:
        settings = init_workspace(directory or state.home, exist_ok=exist_ok)
        Registry(settings).close()  # creates the database and applies migrations now, not on first use
        render.message("workspace ready at {}", settings.home)
        render.message("  settings:  {}", settings.home / "shipyard.toml")
        render.message("  registry:  {}", settings.registry_url)
        render.message("  artifacts: {}", settings.artifacts_url)
    if ci is None:
        return
    written = write_ci(ci, ci_root, spec=ci_spec, alias=ci_alias, overwrite=force_ci)
    branch = "main" if ci == "github" else "the default branch"
    render.message("wrote the {} pipeline to {}", ci, written)
    render.message("  trains {}, gates against {}, promotes to {} on {}", ci_spec, ci_alias, ci_alias, branch)
    if not (ci_root / ci_spec).is_file():
        render.message("[yellow]note:[/] {} does not exist yet; the pipeline trains from it", ci_spec)


@app.command()
def config(as_json: JsonFlag = False) -> None:
    """Print the effective settings and where each one came from."""
    from shipyard.config import load_settings

    require_workspace()
    settings = load_settings(state.home)
    values = settings.as_dict()
    if as_json:
        render.emit_json(values)
        return
    rows = [(name, value, settings.sources.get(name, "workspace")) for name, value in values.items()]
    render.table(None, ["setting", "value", "from"], rows)


# -- examples --------------------------------------------------------------------------------------------
app.command("example")(example_command)


# -- registry ----------------------------------------------------------------------------------------------
app.command("register")(register_command)
app.command("rollback")(rollback_command)
app.command("audit")(audit_command)


# -- demo --------------------------------------------------------------------------------------------------
@app.command()
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Workspace the demo creates (and recreates on every run).")
    ] = Path("demo-workspace"),
) -> None:
    """Run the end-to-end demo on the embedded defaults (SQLite, local disk)."""
    from shipyard.cli.demo import run_demo

    run_demo(directory)
