"""A team workspace from the command line: ``shipyard init --team`` and ``shipyard migrate-workspace``.

``init --team`` points a new workspace at shared services (PostgreSQL, an object store); ``migrate-workspace``
moves an existing workspace's database and files into such services, leaving the workspace as it was. Both
print database URLs with the password hidden.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli import render
from shipyard.cli.common import JsonFlag, require_workspace, state
from shipyard.errors import InvalidInput

if TYPE_CHECKING:  # SQLAlchemy and pyarrow: loaded by the command that runs, not by ``shipyard --help``
    from shipyard.registry.workspace_migration import MigrationReport

#: The exit code when the move ended with rows or files missing at the destination.
INCOMPLETE_EXIT = 1


def init_team(
    directory: Path | None, *, db: str | None, artifacts: str | None, log: str | None, exist_ok: bool
) -> None:
    """``shipyard init --team``: check the services, migrate the database, write shipyard.toml, and say so."""
    from shipyard.store.schema_state import display_url
    from shipyard.workspace import TeamStorage, init_team_workspace, log_url_beside

    if not db or not artifacts:
        raise InvalidInput(
            "init --team needs --db (e.g. postgresql+psycopg://user@host:5432/shipyard) and --artifacts "
            "(e.g. s3://bucket/shipyard)"
        )
    storage = TeamStorage(absolute(db), absolute(artifacts), absolute(log or log_url_beside(artifacts)))
    made = init_team_workspace(directory, storage, exist_ok=exist_ok)
    settings = made.settings
    render.message("team workspace ready at {}", settings.home)
    render.message("  settings:  {}", settings.home / "shipyard.toml")
    render.message(
        "  registry:  {} ({})",
        display_url(settings.registry_url),
        "schema already there" if made.joined else "migrated",
    )
    render.message("  artifacts: {} (writable)", settings.artifacts_url)
    render.message("  log:       {} (writable)", settings.log_url)
    if made.password_left_out:
        render.message(
            "[yellow]note:[/] the database password is not written to shipyard.toml (it may be committed): "
            "give it with $PGPASSWORD or ~/.pgpass, or set SHIPYARD_REGISTRY_URL to the whole URL"
        )


def migrate_workspace_command(
    to_db: Annotated[
        str,
        typer.Option(
            "--to-db",
            metavar="URL",
            help="Database to move into, e.g. postgresql+psycopg://user@host:5432/shipyard (created and "
            "migrated if empty).",
        ),
    ],
    to_artifacts: Annotated[
        str,
        typer.Option(
            "--to-artifacts", metavar="URL", help="Artifact store to copy into: s3://bucket/prefix, a folder."
        ),
    ],
    to_log: Annotated[
        str | None,
        typer.Option(
            "--to-log", metavar="URL", help="Prediction log root to copy into (default: <to-artifacts>/logs)."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Copy this workspace's database, artifacts and prediction log into other storage (PostgreSQL, an
    object store), nothing lost: ids kept, every artifact's hash verified at the destination, every table
    counted on both sides. The workspace itself is only read. Safe to run again: what is already there is
    skipped, and a destination holding other data is refused."""
    from shipyard.config import load_settings
    from shipyard.registry.workspace_migration import MigrationTarget, migrate_workspace
    from shipyard.workspace import log_url_beside

    require_workspace()
    source = load_settings(state.home)
    target = MigrationTarget(
        absolute(to_db), absolute(to_artifacts), absolute(to_log or log_url_beside(to_artifacts))
    )
    sys.stderr.write(f"workspace: {source.home} (read only)\n")
    report = migrate_workspace(source, target, progress=_progress)
    if as_json:
        render.emit_json(report.to_dict())
    else:
        _print(report)
    if not report.complete:
        raise typer.Exit(INCOMPLETE_EXIT)


def _print(report: MigrationReport) -> None:
    rows = [
        (table.table, table.source, table.before, table.copied, table.after, _mark(table.complete))
        for table in report.tables
    ]
    render.table(None, ["table", "source", "destination before", "copied", "destination after", ""], rows)
    files = [
        (
            files.kind,
            files.source,
            "in place" if files.in_place else files.copied,
            files.present,
            _mark(files.complete),
        )
        for files in report.files
    ]
    render.table(None, ["files", "source", "copied", "already there (verified)", ""], files)
    target = report.target
    if not report.complete:
        render.message("[bold red]incomplete:[/] what is marked MISSING above is not at the destination")
        return
    render.message(
        "[green]moved:[/] {} rows copied; every table counted, every artifact verified at the destination",
        report.copied_rows,
    )
    render.message(
        "next: shipyard init --team --db {} --artifacts {} --log {} DIR (the workspace at {} is unchanged)",
        shlex.quote(target["registry_url"]),
        shlex.quote(target["artifacts_url"]),
        shlex.quote(target["log_url"]),
        report.source["home"],
    )


def _progress(line: str) -> None:
    sys.stderr.write(f"  {line}\n")


def _mark(complete: bool) -> str:
    return "ok" if complete else "MISSING"


def absolute(url: str) -> str:
    """A plain path (or ``sqlite:///relative.db``) made absolute from the current folder, where the user
    typed it; any other URL unchanged."""
    sqlite = "sqlite:///"
    if url.startswith(sqlite) and not url[len(sqlite) :].startswith("/") and url != sqlite + ":memory:":
        return sqlite + str(Path(url[len(sqlite) :]).expanduser().resolve())
    if "://" in url:
        return url
    return str(Path(url).expanduser().resolve())
