"""Charts for the HTML reports, drawn as inline SVG: no JavaScript, nothing fetched, a few kilobytes each.

Three kinds cover the drift report:

* ``bar_chart`` — grouped bars over categories (a feature's distribution: the reference against current);
* ``line_chart`` — figures per window over time, with a gap where a window has no value;
* ``verdict_grid`` — one coloured cell per row (a feature) and window: drift, no drift, no data.

Every bar and cell, and every window of a line chart, carries an SVG ``<title>``, which browsers show on
hover. Callers pass plain strings: all text is escaped here. Windows are equally long, so time is drawn as
evenly spaced positions, one per window, labelled with the window's start.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Literal

#: Colours of series in order (Tableau 10, readable by most colour-blind readers).
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
#: Stroke patterns a series may ask for, by name.
DASHES = {"solid": "", "dot": "2 3", "dash": "7 4"}
WIDTH, HEIGHT = 760, 300
_CHAR = 6.5  # average width of a character at the charts' 11px font, for layout estimates
_LEFT, _RIGHT = 58, 16

Verdict = Literal["drift", "calm", "not enough data", "no data", "not computed"]
_RUN_LABELS = {
    "calm": "no drift",
    "not enough data": "not enough data",
    "no data": "no data",
    "not computed": "drift not computed",
}
_VERDICT_COLOURS: dict[str, str] = {
    "drift": "#d62728",
    "calm": "#b7dfb0",
    "not enough data": "#e3dcc2",
    "no data": "#f0f0f0",
    "not computed": "#c8c8c8",
}


@dataclass(frozen=True)
class Series:
    """One named series of values (None: no value there), drawn in ``PALETTE[colour]``."""

    name: str
    values: Sequence[float | None]
    colour: int = 0
    dash: str = "solid"


@dataclass(frozen=True)
class Cell:
    """One cell of a verdict grid and the text shown when hovering it."""

    verdict: Verdict
    hover: str


def bar_chart(title: str, labels: Sequence[str], series: Sequence[Series], *, percent: bool = False) -> str:
    """Bars side by side for each label, one per series, with the value of each on hover."""
    bottom = 26 + min(110, int(_CHAR * max((len(label) for label in labels), default=1) * 0.72))
    frame = _Frame(title, [s.name for s in series], bottom)
    top_value = max([v for s in series for v in s.values if v is not None] + [0.0])
    scale = _Scale(0.0, top_value)
    parts = [frame.open(), *frame.y_axis(scale, percent)]
    slot = frame.plot_width / max(1, len(labels))
    bar = max(1.0, slot * 0.8 / max(1, len(series)))
    for index, label in enumerate(labels):
        left = frame.left + index * slot + slot * 0.1
        for number, one in enumerate(series):
            value = one.values[index]
            if value is None:
                continue
            y = frame.y(scale, value)
            parts.append(
                f'<rect x="{left + number * bar:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                f'height="{frame.y(scale, 0.0) - y:.1f}" fill="{PALETTE[one.colour % 10]}">'
                f"<title>{escape(f'{label} — {one.name}: {_number(value, percent)}')}</title></rect>"
            )
    every = _label_step(len(labels), slot, 18)
    for index in range(0, len(labels), every):
        x = frame.left + (index + 0.5) * slot
        parts.append(_slanted(x, frame.bottom_y + 12, _clip(labels[index], 22)))
    return "".join(parts) + "</svg>"


def line_chart(
    title: str,
    starts: Sequence[datetime],
    series: Sequence[Series],
    *,
    percent: bool = False,
    y_label: str = "",
) -> str:
    """Each series as a line over the windows (a marker per window); hovering a window lists its values."""
    frame = _Frame(title, [s.name for s in series], 28, y_label)
    found = [v for s in series for v in s.values if v is not None and math.isfinite(v)]
    parts = [frame.open()]
    if not found:
        parts.append(frame.empty("no value in any window"))
        return "".join(parts) + "</svg>"
    scale = _Scale(min(0.0, *found), max(found))
    parts += frame.y_axis(scale, percent)
    slot = frame.plot_width / max(1, len(starts))
    x_of = [frame.left + (index + 0.5) * slot for index in range(len(starts))]
    for one in series:
        parts += _polylines(one, x_of, lambda value: frame.y(scale, value))
    parts += _time_labels(frame, starts, x_of, slot)
    parts += _hover_bands(frame, starts, series, slot, percent)  # last, so that they lie on top
    return "".join(parts) + "</svg>"


def _hover_bands(
    frame: _Frame, starts: Sequence[datetime], series: Sequence[Series], slot: float, percent: bool
) -> list[str]:
    """Invisible bands over the plot, one per window, whose hover text lists the window's values. Where a
    window is under 4 pixels wide, a band spans several and lists each series' range over them."""
    per_band = max(1, math.ceil(4 / slot))
    parts = []
    for first in range(0, len(starts), per_band):
        last = min(first + per_band, len(starts)) - 1
        lines = [_when(starts[first]) + ("" if first == last else f" to {_when(starts[last])}")]
        for one in series:
            found = [v for v in one.values[first : last + 1] if v is not None and math.isfinite(v)]
            if found:
                low, high = _number(min(found), percent), _number(max(found), percent)
                lines.append(f"{one.name}: {low}" + ("" if low == high else f" to {high}"))
        if len(lines) > 1:
            parts.append(
                f'<rect class="hover" x="{frame.left + first * slot:.1f}" y="{frame.top}" '
                f'width="{(last - first + 1) * slot:.1f}" height="{frame.plot_height}">'
                f"<title>{escape(chr(10).join(lines))}</title></rect>"
            )
    return parts


def verdict_grid(title: str, starts: Sequence[datetime], rows: Sequence[tuple[str, Sequence[Cell]]]) -> str:
    """A row of cells per name, one cell per window, coloured by verdict, with its reason on hover; a run of
    windows with the same verdict other than drift is one cell."""
    names = [_clip(name, 24) for name, _ in rows]
    left = 12 + int(_CHAR * max((len(name) for name in names), default=4))
    cell_height = 22
    frame = _Frame(title, list(_VERDICT_COLOURS), 28, left=left)
    frame.plot_height = cell_height * len(rows)
    frame.height = frame.top + frame.plot_height + frame.bottom
    parts = [frame.open(legend_colours=list(_VERDICT_COLOURS.values()))]
    slot = frame.plot_width / max(1, len(starts))
    for row, ((_, cells), name) in enumerate(zip(rows, names, strict=True)):
        y = frame.top + row * cell_height
        parts.append(
            f'<text x="{left - 6}" y="{y + cell_height / 2 + 4:.1f}" text-anchor="end">{escape(name)}</text>'
        )
        for first, last in _runs(cells):
            cell = cells[first]
            hover = cell.hover
            if first < last:
                span = f"the {last - first + 1} windows from {_when(starts[first])} to {_when(starts[last])}"
                hover = f"{name}: {_RUN_LABELS[cell.verdict]} in {span}"
            width = max(1.0, (last - first + 1) * slot - 1)
            parts.append(
                f'<rect x="{left + first * slot:.1f}" y="{y + 1}" width="{width:.1f}" '
                f'height="{cell_height - 2}" fill="{_VERDICT_COLOURS[cell.verdict]}">'
                f"<title>{escape(hover)}</title></rect>"
            )
    x_of = [left + (index + 0.5) * slot for index in range(len(starts))]
    parts += _time_labels(frame, starts, x_of, slot)
    return "".join(parts) + "</svg>"


def _runs(cells: Sequence[Cell]) -> list[tuple[int, int]]:
    """First and last index of each cell to draw. Neighbours with the same verdict other than drift are
    drawn as one, so that drift stands out, and a long quiet range weighs little."""
    runs: list[tuple[int, int]] = []
    for index, cell in enumerate(cells):
        if runs and cell.verdict != "drift" and cells[runs[-1][0]].verdict == cell.verdict:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs


class _Frame:
    """Where things go: the title and legend on top, the plot area, the axis labels below."""

    def __init__(self, title: str, legend: list[str], bottom: int, y_label: str = "", left: int = _LEFT):
        self.title, self.legend, self.bottom, self.y_label = title, legend, bottom, y_label
        self.left = left
        self.legend_rows = self._legend_layout()
        self.top = 30 + 16 * len(self.legend_rows)
        self.width = WIDTH
        self.plot_width = WIDTH - left - _RIGHT
        self.plot_height = HEIGHT - self.top - bottom
        self.height = HEIGHT

    @property
    def bottom_y(self) -> float:
        return self.top + self.plot_height

    def y(self, scale: _Scale, value: float) -> float:
        return self.bottom_y - scale.share(value) * self.plot_height

    def _legend_layout(self) -> list[list[tuple[int, str, float]]]:
        """Legend entries (index, text, x) in rows that fit the width."""
        rows: list[list[tuple[int, str, float]]] = [[]]
        x = float(self.left)
        for index, name in enumerate(self.legend):
            text = _clip(name, 40)
            width = 22 + _CHAR * len(text)
            if rows[-1] and x + width > WIDTH - _RIGHT:
                rows.append([])
                x = float(self.left)
            rows[-1].append((index, text, x))
            x += width + 10
        return rows if self.legend else []

    def open(self, legend_colours: list[str] | None = None) -> str:
        parts = [
            f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {self.height}" '
            f'width="{self.width}" height="{self.height}" role="img">',
            f"<title>{escape(self.title)}</title>",
            f'<text class="title" x="{self.left}" y="18">{escape(self.title)}</text>',
        ]
        for row, entries in enumerate(self.legend_rows):
            y = 34 + 16 * row
            for index, text, x in entries:
                colour = legend_colours[index] if legend_colours else PALETTE[index % 10]
                parts.append(
                    f'<rect x="{x:.1f}" y="{y - 9}" width="14" height="10" fill="{colour}"/>'
                    f'<text x="{x + 18:.1f}" y="{y}">{escape(text)}</text>'
                )
        if self.y_label:
            middle = f"{self.top + self.plot_height / 2:.1f}"
            parts.append(
                f'<text x="12" y="{middle}" text-anchor="middle" transform="rotate(-90 12 {middle})">'
                f"{escape(self.y_label)}</text>"
            )
        return "".join(parts)

    def y_axis(self, scale: _Scale, percent: bool) -> list[str]:
        parts = []
        for tick in scale.ticks():
            y = self.y(scale, tick)
            parts.append(
                f'<line class="grid" x1="{self.left}" x2="{self.left + self.plot_width}" y1="{y:.1f}" '
                f'y2="{y:.1f}"/><text x="{self.left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                f"{escape(_number(tick, percent))}</text>"
            )
        return parts

    def empty(self, text: str) -> str:
        return (
            f'<text x="{self.left + self.plot_width / 2:.1f}" y="{self.top + self.plot_height / 2:.1f}" '
            f'text-anchor="middle" class="empty">{escape(text)}</text>'
        )


class _Scale:
    """A value range widened to round tick values, starting from ``low`` (0 for shares and counts)."""

    def __init__(self, low: float, high: float) -> None:
        if high <= low:
            high = low + (abs(low) or 1.0)
        self.step = _nice_step((high - low) / 4)
        self.low = math.floor(low / self.step) * self.step
        self.high = math.ceil(high / self.step - 1e-9) * self.step

    def share(self, value: float) -> float:
        return (value - self.low) / (self.high - self.low)

    def ticks(self) -> list[float]:
        count = round((self.high - self.low) / self.step)
        return [self.low + index * self.step for index in range(count + 1)]


def _nice_step(rough: float) -> float:
    """1, 2 or 5 times a power of ten, the smallest at least ``rough``."""
    power = 10 ** math.floor(math.log10(rough))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= rough * (1 - 1e-9))


def _polylines(one: Series, x_of: list[float], y_of: Callable[[float], float]) -> list[str]:
    """A series as polylines over its runs of values (a gap where a value is missing), a dot per value."""
    colour, dash = PALETTE[one.colour % 10], DASHES.get(one.dash, "")
    parts: list[str] = []
    run: list[tuple[float, float]] = []
    for index, value in enumerate([*one.values, None]):
        if value is not None and math.isfinite(value):
            run.append((x_of[index], y_of(value)))
            continue
        if len(run) > 1:
            pattern = f' stroke-dasharray="{dash}"' if dash else ""
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
            parts.append(f'<polyline points="{points}" stroke="{colour}"{pattern}/>')
        if len(x_of) <= 120 or len(run) == 1:  # a dot per value while dots stay apart, and a lone value's
            parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>' for x, y in run]
        run = []
    return parts


def _time_labels(frame: _Frame, starts: Sequence[datetime], x_of: list[float], slot: float) -> list[str]:
    """Window starts under the plot, level, as many as fit side by side (the last one kept inside)."""
    pattern = "%H:%M" if len({moment.date() for moment in starts}) <= 1 else "%m-%d %H:%M"
    width = _CHAR * len(datetime(2000, 1, 1).strftime(pattern))
    every = _label_step(len(starts), slot, width + 14)
    parts = []
    for index in range(0, len(starts), every):
        x = min(x_of[index], frame.left + frame.plot_width - width / 2)
        parts.append(
            f'<text x="{x:.1f}" y="{frame.bottom_y + 16:.1f}" text-anchor="middle">'
            f"{escape(starts[index].strftime(pattern))}</text>"
        )
    return parts


def _label_step(count: int, slot: float, spacing: float) -> int:
    """Label every n-th slot so that labels are at least ``spacing`` pixels apart."""
    return max(1, math.ceil(spacing / slot)) if count else 1


def _slanted(x: float, y: float, text: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="end" transform="rotate(-40 {x:.1f} {y:.1f})">'
        f"{escape(text)}</text>"
    )


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _number(value: float | None, percent: bool) -> str:
    if value is None:
        return "—"
    if percent:
        return f"{value * 100:.3g}%"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
