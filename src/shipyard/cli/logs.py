"""``shipyard logs`` and ``shipyard feedback``: read the prediction log, keep it tidy, attach true labels."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shipyard.cli import render
from shipyard.cli.common import JsonFlag, open_registry
from shipyard.errors import InvalidInput

if TYPE_CHECKING:  # pyarrow: loaded by the command that reads the log, not by ``shipyard --help``
    import pyarrow as pa

logs_app = typer.Typer(help="The prediction log: query it with SQL, follow it, compact and prune it.")
feedback_app = typer.Typer(help="Late ground truth: attach true labels to logged predictions.")

FORMATS = ("table", "json", "csv")
#: ``--format`` has no short flag: ``-f`` is ``--follow``, as in ``tail -f``.
FormatOption = Annotated[str, typer.Option("--format", help="table, json or csv (--json is --format json).")]


@logs_app.command("query")
def logs_query(
    sql: Annotated[str, typer.Argument(help="DuckDB SQL over the views 'predictions' and 'feedback'.")],
    output: FormatOption = "table",
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as one JSON array.")] = False,
) -> None:
    """Run SQL over every logged prediction (and every attached label)."""
    from shipyard.monitoring import feedback_table
    from shipyard.predictions import PredictionLog

    output = _format(output, as_json)
    with open_registry() as registry:
        result = PredictionLog(registry.settings.log_url).query(sql, feedback=feedback_table(registry))
    _print_table(result, output)


@logs_app.command("tail")
def logs_tail(
    model: Annotated[str | None, typer.Option("--model", "-m", help="Only this model's predictions.")] = None,
    rows: Annotated[int, typer.Option("--rows", "-n", help="How many of the newest rows.")] = 10,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new rows as they are logged, until Ctrl-C.")
    ] = False,
    output: FormatOption = "table",
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print the rows as one JSON array; with --follow, one JSON object a line."
        ),
    ] = False,
) -> None:
    """Print the newest logged predictions; with --follow (-f), keep printing them as they are written."""
    import pyarrow as pa

    from shipyard.predictions import PredictionLog

    output = _format(output, as_json)
    with open_registry() as registry:
        prediction_log = PredictionLog(registry.settings.log_url)
        interval = registry.settings.log_flush_seconds
    # Following compares the newest thousand rows (or --rows) with the ones seen before; all of them count
    # as seen from the start, and only the newest --rows are shown.
    window = max(rows, 1000) if follow else rows
    newest = prediction_log.tail(window, model)
    if newest is None and not follow:
        render.message("no predictions logged yet; serve a model with 'shipyard serve NAME@ALIAS'")
        return
    printed = 0

    def show(table: pa.Table) -> None:
        nonlocal printed
        if follow and output == "json":  # an array could only be closed at Ctrl-C: an object a line
            _print_json_lines(table)
        else:
            _print_table(table, output, header=printed == 0 or output != "csv")
        sys.stdout.flush()  # a pipe reading along gets each row as it is logged
        printed += table.num_rows

    seen: set[str] = set()
    if newest is not None:
        seen.update(newest["prediction_id"].to_pylist())
        show(newest.slice(max(0, newest.num_rows - rows)))
    while follow:
        time.sleep(interval)
        latest = prediction_log.tail(window, model)
        if latest is None:
            continue
        identifiers = latest["prediction_id"].to_pylist()
        fresh = [index for index, pid in enumerate(identifiers) if pid not in seen]
        # Rows older than the newest thousand never come back, so remembering these ids is enough.
        seen = set(identifiers)
        if fresh:
            show(latest.take(pa.array(fresh)))


@logs_app.command("compact")
def logs_compact(as_json: JsonFlag = False) -> None:
    """Merge each hour's small segments into one file (the server's runner does this on its own)."""
    from shipyard.predictions import PredictionLog, compact

    with open_registry(changes=True) as registry:
        results = [compact(store) for store in PredictionLog(registry.settings.log_url).stores]
    folders = sum(result.folders for result in results)
    merged = sum(result.merged_segments for result in results)
    rows = sum(result.rows for result in results)
    if as_json:
        render.emit_json({"folders": folders, "merged_segments": merged, "rows": rows})
        return
    render.message("compacted {} hour(s): {} segments, {} rows", folders, merged, rows)


@logs_app.command("prune")
def logs_prune(
    days: Annotated[
        float | None,
        typer.Option("--older-than-days", help="Delete hours older than this (default: log_retention_days)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Delete the prediction log's hours older than the retention period."""
    from shipyard.predictions import PredictionLog, expire

    with open_registry(changes=True) as registry:
        keep = registry.settings.log_retention_days if days is None else days
        removed = 0
        for store in PredictionLog(registry.settings.log_url).stores:
            count, before = expire(store, keep)
            removed += count
    if as_json:
        render.emit_json({"removed_hours": removed, "before": before.isoformat()})
        return
    render.message("removed {} hour(s) of the prediction log older than {}", removed, before.isoformat())


@feedback_app.command("add")
def feedback_add(
    file: Annotated[Path, typer.Argument(help="A .csv or .parquet file of prediction ids and labels.")],
    id_column: Annotated[
        str, typer.Option("--id-column", help="Column of prediction ids.")
    ] = "prediction_id",
    label_column: Annotated[str, typer.Option("--label-column", help="Column of true labels.")] = "label",
    as_json: JsonFlag = False,
) -> None:
    """Attach true labels to logged predictions; unknown ids and bad labels are reported per row.

    The whole file is stored in one transaction: interrupted, it stores nothing; added again, it changes
    nothing (its labels are reported as duplicates)."""
    from shipyard.datasets.reading import detect_format, read_table
    from shipyard.monitoring import attach_labels
    from shipyard.predictions import PredictionLog

    if not file.is_file():
        raise InvalidInput(f"{file} does not exist or is not a file")
    frame = read_table(file, detect_format(file))
    missing = [name for name in (id_column, label_column) if name not in frame.columns]
    if missing:
        raise InvalidInput(
            f"{file} has no column {', '.join(map(repr, missing))}; its columns are "
            f"{', '.join(map(repr, map(str, frame.columns)))} (choose with --id-column / --label-column)"
        )
    pairs = list(zip(_plain(frame[id_column].tolist()), _plain(frame[label_column].tolist()), strict=True))
    del frame
    with open_registry(changes=True) as registry, _feedback_progress(len(pairs)) as progress:
        report = attach_labels(
            registry,
            PredictionLog(registry.settings.log_url),
            pairs,
            source=file.name,
            settle_seconds=0,
            progress=progress,
        )
    if as_json:
        render.emit_json(report.to_dict())
        return
    counts = report.counts
    render.message(
        "{} label(s): {} attached, {} duplicate, {} updated, {} unknown, {} invalid",
        len(report.outcomes),
        *(counts[status] for status in ("attached", "duplicate", "updated", "unknown", "invalid")),
    )
    problems = report.problems()
    if problems:
        render.table(
            None,
            ["row", "prediction_id", "status", "why"],
            [(p.row, p.prediction_id, p.status, p.message) for p in problems[:50]],
        )
        if len(problems) > 50:
            render.message("… and {} more (use --json for all)", len(problems) - 50)


@contextmanager
def _feedback_progress(labels: int) -> Iterator[Callable[[str, int, int], None]]:
    """Two bars on standard error, when it is a terminal: the log read (rows) and the labels stored."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    errors = render.error_console()
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=errors, disable=not errors.is_terminal) as bar:
        tasks = {
            "reading": bar.add_task("reading the prediction log (rows)", total=None),
            "storing": bar.add_task(f"storing {labels:,} labels", total=None, start=False),
        }

        def progress(stage: str, done: int, total: int) -> None:
            task = tasks[stage]
            bar.start_task(task)
            bar.update(task, completed=done, total=total)

        yield progress


def _plain(values: list[Any]) -> list[Any]:
    """Cells as JSON-able scalars: pandas' missing values become None."""
    return [None if value is None or value != value else value for value in values]


def _format(output: str, as_json: bool) -> str:
    if output not in FORMATS:
        raise InvalidInput(f"--format must be one of {', '.join(FORMATS)}, got {output!r}")
    if as_json and output not in ("table", "json"):
        raise InvalidInput(f"--json and --format {output} ask for two formats; give one")
    return "json" if as_json else output


def _print_json_lines(table: pa.Table) -> None:
    """One JSON object a line, flushed at once: what a program following the log reads as it comes."""
    for row in table.to_pylist():
        sys.stdout.write(json.dumps(row, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _print_table(table: pa.Table, output: str, *, header: bool = True) -> None:
    if output == "json":
        render.emit_json(table.to_pylist())
    elif output == "csv":
        table.to_pandas().to_csv(sys.stdout, index=False, header=header)
    else:
        render.table(None, table.column_names, [list(row.values()) for row in table.to_pylist()])
