"""``shipyard score`` (batch scoring) and ``shipyard runs`` (the history of batch runs)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shipyard.cli import render
from shipyard.cli.common import JsonFlag, open_registry

if TYPE_CHECKING:
    from rich.progress import TaskID

runs_app = typer.Typer(
    help="The history of batch scoring runs.", no_args_is_help=False, invoke_without_command=True
)


def score_command(
    reference: Annotated[str, typer.Argument(help="fraud@production or fraud/3.")],
    inputs: Annotated[
        list[str],
        typer.Option("--input", "-i", help="A .parquet or .csv file, a folder or a glob (repeatable)."),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="The output folder.")],
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Resume this run (same folder, inputs and version).")
    ] = None,
    keys: Annotated[
        list[str] | None,
        typer.Option("--key", "-k", help="Input columns to copy to the output (default: all but features)."),
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    chunk_rows: Annotated[int, typer.Option("--chunk-rows", help="Rows per chunk.", min=1)] = 100_000,
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", help="Worker processes (default: every core).", min=1)
    ] = None,
    max_reject_share: Annotated[
        float,
        typer.Option("--max-reject-share", help="Fail the job when more of the rows than this are rejected."),
    ] = 1.0,
    skip_unreadable: Annotated[
        bool, typer.Option("--skip-unreadable", help="Succeed even when an input file cannot be read.")
    ] = False,
    trust: Annotated[
        bool, typer.Option("--trust", help="Load formats that run code when loaded (generic Python).")
    ] = False,
    log_predictions: Annotated[
        bool,
        typer.Option("--log", help="Also write the predictions to the prediction log, for the monitors."),
    ] = False,
    timestamp_column: Annotated[
        str | None,
        typer.Option(
            "--timestamp-column",
            help="With --log: the input column saying when each row happened (timestamps or ISO 8601 "
            "text); rows are logged at those times instead of the run's start.",
        ),
    ] = None,
    engine: Annotated[
        str, typer.Option("--engine", help="local (every core here) or ray (the ray_address cluster).")
    ] = "local",
    as_json: JsonFlag = False,
) -> None:
    """Score files of any size with a model version: validated, on every core, resumable."""
    from shipyard.batch import BatchOptions, score_batch

    with open_registry(changes=True) as registry:
        options = BatchOptions(
            run_id=run_id,
            key_columns=keys,
            format=output_format,
            chunk_rows=chunk_rows,
            workers=workers,
            max_reject_share=max_reject_share,
            skip_unreadable=skip_unreadable,
            trust=trust,
            log_predictions=log_predictions,
            timestamp_column=timestamp_column,
            engine=engine,
        )
        with _progress_bar(hidden=as_json) as progress:
            result = score_batch(registry, reference, inputs, output, options, progress=progress)
    if as_json:
        render.emit_json(result.to_dict())
        return
    show_result(result.to_dict())


@contextmanager
def _progress_bar(*, hidden: bool) -> Iterator[Callable[[int, int | None], None]]:
    """A progress bar on standard error (rows done of the total, and the rate); yields its update function.

    The bar is drawn on the first update, which the job sends once its inputs are found, hashed and
    checked: a typo in a path is reported alone, not under an empty ``0/?`` bar.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = [
        TextColumn("[bold]scoring[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows  {task.fields[rate]}"),
        TimeRemainingColumn(),
    ]
    bar = Progress(*columns, console=render.error_console(), disable=hidden, transient=False)
    task: TaskID | None = None
    began = time.perf_counter()

    def progress(done: int, total: int | None) -> None:
        nonlocal task, began
        if task is None:
            bar.start()
            task = bar.add_task("score", total=None, rate="")
            began = time.perf_counter()
        elapsed = time.perf_counter() - began
        rate = f"{done / elapsed:,.0f} rows/s" if elapsed > 0 and done else ""
        bar.update(task, completed=done, total=total, rate=rate)

    try:
        yield progress
    finally:
        bar.stop()


def show_result(result: dict[str, Any]) -> None:
    render.message(
        "run {}: {} rows, {} scored, {} rejected ({}) in {} s ({} rows/s) → {}",
        result["run_id"],
        f"{result['rows']:,}",
        f"{result['scored']:,}",
        f"{result['rejected']:,}",
        f"{result['reject_share']:.2%}",
        f"{result['seconds']:.1f}",
        f"{result['rows_per_second']:,.0f}",
        result["output"],
    )
    if result["resumed_chunks"]:
        render.message("resumed: {} chunk(s) were already done", result["resumed_chunks"])
    for example in result["examples"]:
        render.message(
            "  rejected {} row {}, {}: {}",
            example["file"],
            example["row"],
            example["column"],
            example["reason"],
        )
    for empty in result["empty_files"]:
        render.message("  {} is empty: no rows", empty)


@runs_app.callback()
def runs_list(
    context: typer.Context,
    model: Annotated[str | None, typer.Option("--model", help="Only this model's runs.")] = None,
    last: Annotated[int, typer.Option("--last", "-n", help="How many, newest first.", min=1)] = 20,
    as_json: JsonFlag = False,
) -> None:
    """The newest batch runs: version, status, rows, rejects, duration."""
    if context.invoked_subcommand is not None:
        return
    from shipyard.batch import batch_runs

    with open_registry() as registry:
        runs = batch_runs(registry, model=model, last=last)
    if as_json:
        render.emit_json(runs)
        return
    render.table(
        None,
        ["run", "model", "status", "rows", "scored", "rejected", "seconds", "started", "output"],
        [
            (
                run["run_id"],
                f"{run['model']}/{run['version']}",
                run["status"],
                f"{run['rows']:,}",
                f"{run['scored']:,}",
                f"{run['rejected']:,}",
                "—" if run["seconds"] is None else f"{run['seconds']:.1f}",
                (run["started_at"] or "")[:19],
                run["output"],
            )
            for run in runs
        ],
    )


@runs_app.command("show")
def runs_show(run_id: Annotated[str, typer.Argument(help="A run id.")], as_json: JsonFlag = False) -> None:
    """One run: its version, inputs with their hashes, counts, outcome."""
    from shipyard.batch import batch_run

    with open_registry() as registry:
        run = batch_run(registry, run_id)
    if as_json:
        render.emit_json(run)
        return
    render.pairs(
        f"batch run {run_id}",
        [
            ("model", f"{run['model']}/{run['version']}"),
            ("status", run["status"] + (f": {run['error']}" if run["error"] else "")),
            ("rows", f"{run['rows']:,} ({run['scored']:,} scored, {run['rejected']:,} rejected)"),
            ("started", run["started_at"]),
            ("finished", run["finished_at"] or "—"),
            ("output", run["output"]),
            *[
                (f"input {f['path']}", f"sha256 {f['sha256'][:16]}…, {f['size']:,} bytes")
                for f in run["inputs"]["files"]
            ],
        ],
    )
