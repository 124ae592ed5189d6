"""Output for the CLI: Rich tables for people, JSON for scripts. Commands build data; this prints it.

When stdout is not a terminal (a pipe, a file, a CI log), tables are plain text instead: one line per row,
columns padded with spaces, no box drawing, nothing wrapped or shortened, so an id can be copied or grepped
whole however long it is. ``--json`` remains the format for programs.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from shipyard.registry import AuditEvent


def console() -> Console:
    """A console for stdout, made per call so the terminal width (or $COLUMNS) is read when printing.

    Output that is not a terminal (CI logs, files) gets 120 columns instead of Rich's 80, so tables stay
    readable there."""
    plain = Console(highlight=False, soft_wrap=True)
    if plain.is_terminal or "COLUMNS" in os.environ:
        return plain
    return Console(highlight=False, soft_wrap=True, width=120)


def error_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(data: Any) -> None:
    """Write ``data`` as JSON to stdout (plain print: Rich must not wrap or colour machine output)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    out = console()
    if not out.is_terminal:
        _plain_table(title, columns, rows, header=True)
        return
    grid = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*(Text(format_value(value)) for value in row))
    out.print(grid)


def status_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, status_column: int, styles: dict[str, str]
) -> None:
    """A table whose status column is coloured (pass/fail/skip); other cells are plain text."""
    out = console()
    if not out.is_terminal:
        shown = [list(row) for row in rows]
        for line in shown:  # the status as the terminal shows it (FAIL, not fail), without its colour
            status = str(line[status_column])
            line[status_column] = Text.from_markup(styles.get(status, escape(status))).plain
        _plain_table(None, columns, shown, header=True)
        return
    grid = Table(header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        cells: list[Any] = [Text(format_value(value)) for value in row]
        status = str(row[status_column])
        cells[status_column] = styles.get(status, escape(status))
        grid.add_row(*cells)
    out.print(grid)


def _plain_table(
    title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, header: bool
) -> None:
    """The table as plain lines: the title, then the header and one line per row, each column padded to its
    widest cell with two spaces between columns; every value whole, line breaks inside a value as spaces."""
    lines = [list(columns)] if header else []
    lines += [[_one_line(format_value(value, whole=True)) for value in row] for row in rows]
    widths = [
        max((cell_len(line[i]) for line in lines if i < len(line)), default=0) for i in range(len(columns))
    ]
    text = [title] if title else []
    for line in lines:
        padded = [cell + " " * (widths[i] - cell_len(cell)) for i, cell in enumerate(line)]
        text.append("  ".join(padded).rstrip())
    sys.stdout.write("".join(f"{entry}\n" for entry in text))
    sys.stdout.flush()


def _one_line(text: str) -> str:
    return " ".join(text.splitlines()).replace("\t", " ")


def audit_table(title: str | None, events: Iterable[AuditEvent]) -> None:
    table(
        title,
        ["when (UTC)", "actor", "action", "target", "before", "after", "reason"],
        [(e.at, e.actor, e.action, e.target, e.before, e.after, e.reason) for e in events],
    )


def pairs(title: str | None, items: Iterable[tuple[str, Any]]) -> None:
    """A two-column key/value table."""
    out = console()
    if not out.is_terminal:
        _plain_table(title, ["", ""], items, header=False)
        return
    grid = Table(title=title, title_justify="left", show_header=False, box=None, pad_edge=False)
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for key, value in items:
        grid.add_row(key, Text(format_value(value)))
    out.print(grid)


def markdown(text: str) -> None:
    from rich.markdown import Markdown  # with its Markdown parser: loaded by the commands that print one

    console().print(Markdown(text))


def message(text: str, *values: Any) -> None:
    """Print ``text`` (Rich markup allowed) with ``values`` formatted into its ``{}`` slots, escaped, so
    user-supplied names can never be read as markup."""
    console().print(text.format(*(escape(str(value)) for value in values)))


def plain(text: str) -> str:
    """Escape text for printing where Rich markup is parsed."""
    return escape(text)


def format_value(value: Any, *, whole: bool = False) -> str:
    """A cell's text. On a terminal a sha256 shows its first 12 digits; ``whole`` keeps it all."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return value if whole else value[:12] + "…"  # the prefix identifies it; the full hash is in --json
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={format_value(v, whole=whole)}" for k, v in value.items()) or "-"
    if isinstance(value, list | tuple):
        return ", ".join(format_value(v, whole=whole) for v in value) or "-"
    return str(value)
