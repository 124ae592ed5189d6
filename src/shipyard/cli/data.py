"""``shipyard data``: version tables (CSV, Parquet, or the labelled prediction log) and inspect their contract
and profile."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shipyard.cli import render
from shipyard.cli.common import JsonFlag, ReasonOption, open_registry

if TYPE_CHECKING:  # pandas and pyarrow: loaded by the command that runs, not by ``shipyard --help``
    from shipyard.contracts import Contract
    from shipyard.datasets import DatasetVersion

data_app = typer.Typer(help="Version datasets: stored once under their content hash.", no_args_is_help=True)


@data_app.command("add")
def data_add(
    file: Annotated[Path, typer.Argument(help="A .csv or .parquet file.")],
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Dataset name (default: the file's stem).")
    ] = None,
    format: Annotated[
        str | None, typer.Option("--format", help="csv or parquet, if the suffix is neither.")
    ] = None,
    reason: ReasonOption = "",
    as_json: JsonFlag = False,
) -> None:
    """Add a file as the next version of a dataset (identical content: returns the existing version)."""
    from shipyard.datasets import describe_type_breaks

    with open_registry(changes=True) as registry:
        version = registry.datasets.add(name or file.stem, file, format=format, reason=reason)
    if as_json:
        render.emit_json(version.to_dict())
        return
    _say_stored(version)
    for sentence in describe_type_breaks(version.notes):
        render.message("[yellow]warning:[/] {}", sentence)
    for column in version.notes.get("all_null_columns", []):
        render.message("[yellow]warning:[/] column {} is empty in every row; it has no type", column)


@data_app.command("from-log")
def data_from_log(
    model: Annotated[str, typer.Argument(help="The model whose logged predictions become rows.")],
    since: Annotated[str, typer.Option("--from", help="Start (ISO time, UTC), included.")],
    until: Annotated[str, typer.Option("--to", help="End (ISO time, UTC, or 'now'), left out.")],
    labelled: Annotated[
        bool,
        typer.Option("--labelled/--all", help="Only rows with a late label (default), or every row."),
    ] = True,
    target: Annotated[
        str | None,
        typer.Option(
            "--target", help="Label column name (default: the model's training target, else label)."
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", "-n", help="Dataset name (default: MODEL-labelled, or MODEL-logged)."),
    ] = None,
    versions: Annotated[
        list[int] | None,
        typer.Option("--version", help="Only this model version (repeat for several; default: all)."),
    ] = None,
    reason: ReasonOption = "",
    as_json: JsonFlag = False,
) -> None:
    """Store a model's logged inputs, joined with their late labels, as a dataset version with lineage."""
    from shipyard.cli.monitor import parse_time
    from shipyard.datasets import dataset_from_log
    from shipyard.datasets.from_log import LOG_COLUMNS
    from shipyard.predictions import PredictionLog

    start, end = parse_time(since), parse_time(until)
    with open_registry(changes=True) as registry:
        version = dataset_from_log(
            registry,
            PredictionLog(registry.settings.log_url),
            model,
            start=start,
            end=end,
            labelled=labelled,
            target=target,
            name=name,
            versions=versions or None,
            reason=reason,
        )
    if as_json:
        render.emit_json(version.to_dict())
        return
    lineage: dict[str, Any] = version.notes.get("lineage", {})
    labels = lineage.get("labels", {})
    _say_stored(version)
    render.pairs(
        "lineage",
        [
            ("source", f"{lineage.get('source')} of {lineage.get('model')}"),
            ("window", f"{lineage.get('window', {}).get('start')} … {lineage.get('window', {}).get('end')}"),
            ("model versions", ", ".join(map(str, lineage.get("versions", [])))),
            ("log segments", len(lineage.get("segments", []))),
            ("label column", lineage.get("target")),
            ("labelled rows", labels.get("labelled_rows")),
            ("unlabelled rows", _unlabelled(labels)),
            ("shadow rows left out", lineage.get("shadow_rows_left_out")),
        ],
    )
    render.message(
        "train on it with: data.dataset = {}, data.exclude = {}",
        json.dumps(version.ref),
        json.dumps(list(LOG_COLUMNS)),
    )


def _unlabelled(labels: dict[str, Any]) -> str:
    count = labels.get("unlabelled_rows", 0)
    return f"{count} (left out)" if "unlabelled_rows_left_out" in labels else f"{count} (kept, label empty)"


@data_app.command("list")
def data_list(
    name: Annotated[str | None, typer.Argument(help="Only versions of this dataset.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List dataset versions."""
    with open_registry() as registry:
        versions = registry.datasets.list(name)
    if as_json:
        render.emit_json([version.to_dict() for version in versions])
        return
    if not versions:
        render.message("no datasets yet; add one with 'shipyard data add FILE --name NAME'")
        return
    render.table(
        None,
        ["dataset", "version", "rows", "columns", "format", "sha256", "source", "added (UTC)"],
        [
            (v.name, v.version, v.rows, v.columns, v.format, v.sha256, v.source, v.created_at)
            for v in versions
        ],
    )


@data_app.command("show")
def data_show(
    reference: Annotated[str, typer.Argument(help="A dataset version: name (newest) or name/3.")],
    as_json: JsonFlag = False,
) -> None:
    """Show a dataset version with its inferred contract and profile summary."""
    from shipyard.datasets import describe_type_breaks

    with open_registry() as registry:
        version = registry.datasets.get(reference)
    if as_json:
        render.emit_json(version.to_dict(full=True))
        return
    render.pairs(
        version.ref,
        [
            ("rows", f"{version.rows:,}"),
            ("columns", version.columns),
            ("format", version.format),
            ("sha256", version.sha256),
            ("source", version.source),
            ("added", f"{version.created_at:%Y-%m-%d %H:%M:%S} UTC by {version.created_by}"),
        ],
    )
    contract_table(version.contract, title="contract (inferred)")
    for sentence in describe_type_breaks(version.notes):
        render.message("[yellow]warning:[/] {}", sentence)


def contract_table(contract: Contract, *, title: str | None = None) -> None:
    """The contract's columns as a table (shared by ``data show`` and ``contract show``)."""
    rows = []
    for column in contract.columns:
        observed = (
            f"{column.observed_min} … {column.observed_max}" if column.observed_min is not None else None
        )
        bounds = None
        if column.minimum is not None or column.maximum is not None:
            low = "" if column.minimum is None else column.minimum
            high = "" if column.maximum is None else column.maximum
            bounds = f"{low} … {high}"
        categories = list(column.categories) if column.categories is not None else None
        rows.append(
            (
                column.name,
                column.type,
                "yes" if column.nullable else "no",
                "yes" if column.required else "no",
                observed,
                bounds,
                categories,
                "closed" if column.closed else None,
            )
        )
    render.table(
        title, ["column", "type", "nullable", "required", "observed", "enforced", "categories", ""], rows
    )
    render.message("extra columns: {}", contract.extra_columns)


def _say_stored(version: DatasetVersion) -> None:
    """One line: the version added (or already stored), its shape and hash."""
    verb = "added" if version.created else "already stored as"
    render.message(
        "{} [bold]{}[/]: {} rows × {} columns, sha256 {}…",
        verb,
        version.ref,
        f"{version.rows:,}",
        version.columns,
        version.sha256[:12],
    )
