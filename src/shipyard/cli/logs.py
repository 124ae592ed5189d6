"""``shipyard logs`` and ``shipyard feedback``: read the prediction log, keep it tidy, attach true labels."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import typer

from shipyard.cli import render
from shipyard.cli.common import JsonFlag, open_registry
from shipyard.datasets.reading import detect_format, read_table
from shipyard.errors import InvalidInput

logs_app = typer.Typer(help="The prediction log: query it with SQL, follow it, compact and prune it.")
feedback_app = typer.Typer(help="Late ground truth: attach true labels to logged predictions.")

FORMATS = ("table", "json", "csv")


@logs_app.command("query")
def logs_query(
    sql: Annotated[str, typer.Argument(help="DuckDB SQL over the views 'predictions' and 'feedback'.")],
    output: Annotated[str, typer.Option("--format", "-f", help="table, json or csv.")] = "table",
) -> None:
    """Run SQL over every logged prediction (and every attached label)."""
    from shipyard.monitoring import feedback_table
    from shipyard.predictions import PredictionLog

    _check_format(output)
    with open_registry() as registry:
        result = PredictionLog(registry.settings.log_url).query(sql, feedback=feedback_table(registry))
    _print_table(result, output)


@logs_app.command("tail")
def logs_tail(
    model: Annotated[str | None, typer.Option("--model", "-m", help="Only this model's predictions.")] = None,
    rows: Annotated[int, typer.Option("--rows", "-n", help="How many of the newest rows.")] = 10,
    follow: Annotated[bool, typer.Option("--follow", help="Keep printing new rows until Ctrl-C.")] = False,
    output: Annotated[str, typer.Option("--format", "-f", help="table, json or csv.")] = "table",
) -> None:
    """Print the newest logged predictions; with --follow, keep printing them as they are written."""
    from shipyard.predictions import PredictionLog

    _check_format(output)
    with open_registry() as registry:
        prediction_log = PredictionLog(registry.settings.log_url)
        interval = registry.settings.log_flush_seconds
    newest = prediction_log.tail(rows, model)
    if newest is None and not follow:
        render.message("no predictions logged yet; serve a model with 'shipyard serve NAME@ALIAS'")
        return
    seen: set[str] = set()
    if newest is not None:
        seen.update(newest["prediction_id"].to_pylist())
        _print_table(newest, output)
    while follow:
        time.sleep(interval)
        latest = prediction_log.tail(max(rows, 1000), model)
        if latest is None:
            continue
        fresh = [index for index, pid in enumerate(latest["prediction_id"].to_pylist()) if pid not in seen]
        if fresh:
            table = latest.take(pa.array(fresh))
            seen.update(table["prediction_id"].to_pylist())
            _print_table(table, output)


@logs_app.command("compact")
def logs_compact(as_json: JsonFlag = False) -> None:
    """Merge each hour's small segments into one file (the server's runner does this on its own)."""
    from shipyard.predictions import PredictionLog, compact

    with open_registry() as registry:
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

    with open_registry() as registry:
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
    """Attach true labels to logged predictions; unknown ids and bad labels are reported per row."""
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
    with open_registry() as registry:
        report = attach_labels(
            registry, PredictionLog(registry.settings.log_url), pairs, source=file.name, settle_seconds=0
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


def _plain(values: list[Any]) -> list[Any]:
    """Cells as JSON-able scalars: pandas' missing values become None."""
    return [None if value is None or value != value else value for value in values]


def _check_format(output: str) -> None:
    if output not in FORMATS:
        raise InvalidInput(f"--format must be one of {', '.join(FORMATS)}, got {output!r}")


def _print_table(table: pa.Table, output: str) -> None:
    if output == "json":
        render.emit_json(table.to_pylist())
    elif output == "csv":
        import sys

        table.to_pandas().to_csv(sys.stdout, index=False)
    else:
        render.table(None, table.column_names, [list(row.values()) for row in table.to_pylist()])
