"""Plotly figures for the dashboard, built from stored monitoring windows: pure functions, JSON out.

Each time-series function takes a model's stored windows (``monitoring.series.stored_windows``, oldest
first) and returns a Plotly figure as a plain dict (``data`` and ``layout``; ``json.dumps(...,
allow_nan=False)`` always succeeds) that the page embeds and the browser's Plotly draws. They read the same
figures of each window's report as the static HTML reports (``monitoring.report``) draw in SVG. Windows of
several versions (a canary beside the stable one) give a line per version, the version in its name and
its own dash.

A figure with nothing to draw yet — no window, or no value in any window — is None, so the page says "no
data yet" instead of showing an empty frame. Windows without data stay in the series as gaps.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from shipyard.errors import InvalidInput, not_found
from shipyard.monitoring.charts import PALETTE
from shipyard.monitoring.series import StoredWindow
from shipyard.stats import NumericLayout, NumericSketch, Profile
from shipyard.stats.drift import DEFAULT_THRESHOLDS

__all__ = [
    "DRIFT_SCORES",
    "QUALITY_FIGURES",
    "Figure",
    "accuracy_figure",
    "distribution_figure",
    "drift_figure",
    "error_rate_figure",
    "latency_figure",
    "quality_figure",
    "request_rate_figure",
    "resources_figure",
]

#: A Plotly figure: ``{"data": [traces], "layout": {...}}``, JSON-serialisable.
Figure = dict[str, Any]
#: Drift scores drawn over time: distances every window of a column computes, high = drift.
DRIFT_SCORES = ("psi", "wasserstein", "jensen_shannon")
QualityFigure = Literal["missing_rate", "out_of_range_share", "unseen_share", "rejected_share"]
QUALITY_FIGURES: dict[str, str] = {
    "missing_rate": "missing values (share of answered rows)",
    "out_of_range_share": "numbers outside the reference's range (share of answered rows)",
    "unseen_share": "categories the reference never saw (share of answered rows)",
    "rejected_share": "rows refused by the contract (share of rows sent)",
}
_DASHES = ("solid", "dash", "dot", "dashdot")
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # UTC, without an offset: Plotly draws dates as given
_DRIFTED, _CALM = "x", "circle"
ValueOf = Callable[[dict[str, Any]], Any]


def request_rate_figure(windows: Sequence[StoredWindow]) -> Figure | None:
    """Requests per second per window, failed ones included (scaled up when the log is sampled)."""
    traces = _lines(windows, [("requests per second", _health("request_rate"))])
    return _figure(traces, "request rate", y={"title": {"text": "requests / s"}, "rangemode": "tozero"})


def error_rate_figure(windows: Sequence[StoredWindow]) -> Figure | None:
    """Shares of requests answered without a prediction: server errors (5xx) and refusals (4xx)."""
    traces = _lines(
        windows,
        [("errors (5xx)", _health("error_rate")), ("refused (4xx)", _health("rejected_rate"))],
        colours=(2, 1),
    )
    return _figure(traces, "requests without a prediction", y=_percent_axis())


def latency_figure(windows: Sequence[StoredWindow]) -> Figure | None:
    """Latency percentiles of the answered requests, in milliseconds."""
    traces = _lines(windows, [(f"p{q}", _health(f"latency_p{q}_ms")) for q in (50, 95, 99)])
    return _figure(traces, "latency of answered requests", y={"title": {"text": "ms"}, "rangemode": "tozero"})


def resources_figure(windows: Sequence[StoredWindow]) -> Figure | None:
    """CPU (percent of one core) and resident memory of the processes serving each version."""
    cpu = _lines(windows, [("CPU", _health("cpu_percent"))])
    memory = _lines(windows, [("memory", _health("memory_bytes"))], colours=(1,))
    for trace in memory:
        trace["yaxis"] = "y2"
    figure = _figure(
        [*cpu, *memory], "CPU and memory of the serving processes", y={"title": {"text": "CPU %"}}
    )
    if figure is not None:
        figure["layout"]["yaxis2"] = {
            "title": {"text": "memory"},
            "overlaying": "y",
            "side": "right",
            "tickformat": ".3s",
            "ticksuffix": "B",
            "rangemode": "tozero",
            "showgrid": False,
        }
    return figure


def drift_figure(
    windows: Sequence[StoredWindow], *, score: str = "psi", outputs: bool = False
) -> Figure | None:
    """A drift score per feature (or per output, ``outputs=True``) over time, a line each, with the score's
    threshold as a dotted line; a window whose verdict was drift is marked with a cross. PSI by default:
    every column's every window computes it, so the line means one thing throughout."""
    if score not in DRIFT_SCORES:
        raise InvalidInput(
            f"drift score {score!r} is not drawn over time; use one of {', '.join(DRIFT_SCORES)}"
        )
    columns = _columns_by_report(windows, "output_drift" if outputs else "drift")
    names = _drift_columns(columns, score)
    traces: list[dict[str, Any]] = []
    for index, name in enumerate(names):
        traces += _lines(windows, [(name, _drift_score(columns, name, score))], colours=(index,))
    groups = _by_version(windows)
    for trace in traces:
        _mark_drift(trace, groups, columns, score)
    thresholds = sorted(
        {
            _threshold(column, score)
            for found in columns.values()
            for column in found.values()
            if score in (column.get("scores") or {})
        }
    )
    figure = _figure(
        traces, f"drift per {'output' if outputs else 'feature'}: {score}", y={"rangemode": "tozero"}
    )
    if figure is None:
        return None
    starts = [_when(window) for window in windows]
    for threshold in thresholds:
        figure["data"].append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"threshold {threshold:g}",
                "x": [min(starts), max(starts)],
                "y": [threshold, threshold],
                "line": {"color": "#555555", "dash": "dot", "width": 1},
                "hoverinfo": "skip",
            }
        )
    return figure


def quality_figure(windows: Sequence[StoredWindow], figure: QualityFigure = "missing_rate") -> Figure | None:
    """One data-quality share per feature over time, a line each."""
    if figure not in QUALITY_FIGURES:
        raise InvalidInput(f"no quality figure {figure!r}; use one of {', '.join(QUALITY_FIGURES)}")
    features = sorted({name for window in windows for name in window.report.get("quality") or {}})

    def value_of(name: str) -> ValueOf:
        return lambda report: ((report.get("quality") or {}).get(name) or {}).get(figure)

    traces: list[dict[str, Any]] = []
    for index, name in enumerate(features):
        traces += _lines(windows, [(name, value_of(name))], colours=(index,))
    return _figure(traces, QUALITY_FIGURES[figure], y=_percent_axis())


def accuracy_figure(windows: Sequence[StoredWindow], metrics: Sequence[str] | None = None) -> Figure | None:
    """Accuracy metrics per window once labels arrived (all the windows have, or ``metrics``), with the
    number of labelled rows behind each as bars on a second axis."""
    found = sorted({name for window in windows for name in window.report.get("accuracy") or {}})
    chosen = list(metrics) if metrics is not None else found

    def metric(name: str) -> ValueOf:
        return lambda report: (report.get("accuracy") or {}).get(name)

    traces = _lines(windows, [(name, metric(name)) for name in chosen])
    figure = _figure(traces, "accuracy once labels arrived", y={"title": {"text": "metric"}})
    if figure is None:
        return None
    groups = _by_version(windows)
    for version, group in groups.items():
        figure["data"].insert(
            0,
            {
                "type": "bar",
                "name": _named("labelled rows", version, len(groups) > 1),
                "x": [_when(window) for window in group],
                "y": [
                    None if window.report.get("no_data") else window.report.get("labelled_rows")
                    for window in group
                ],
                "yaxis": "y2",
                "marker": {"color": "#bab0ac"},
                "opacity": 0.5,
            },
        )
    figure["layout"]["yaxis2"] = {
        "title": {"text": "labelled rows"},
        "overlaying": "y",
        "side": "right",
        "rangemode": "tozero",
        "showgrid": False,
    }
    return figure


def distribution_figure(
    feature: str, reference: Profile, current: Profile | None, *, current_name: str = "current"
) -> Figure | None:
    """A feature's distribution in the reference (training) against ``current`` (a window's profile, in
    the reference's layout): shares per category, or a histogram over the reference's bins. None when
    either has no value of the feature."""
    layout = reference.layout.columns.get(feature)
    if layout is None:
        raise not_found(
            "feature", feature, within="the reference profile", candidates=reference.layout.columns
        )
    if current is None or current.layout.columns.get(feature) != layout:
        return None
    if not reference.columns[feature].count or not current.columns[feature].count:
        return None
    pair = [("reference (training)", reference, 0), (current_name, current, 1)]
    title = f"{feature}: reference against {current_name}"
    if isinstance(layout, NumericLayout) and layout.edges:
        return _histogram(feature, layout, pair, title)
    labels = (
        ["all values"] if isinstance(layout, NumericLayout) else [*map(str, layout.vocabulary), "(other)"]
    )
    traces = [
        {
            "type": "bar",
            "name": name,
            "x": labels,
            "y": _clean(profile.distribution(feature).tolist()),
            "marker": {"color": PALETTE[colour]},
            "hovertemplate": "%{x}: %{y:.1%}",
        }
        for name, profile, colour in pair
    ]
    figure = _figure(traces, title, y=_percent_axis())
    assert figure is not None  # both have values
    figure["layout"].update(barmode="group", hovermode="closest")
    figure["layout"]["xaxis"] = {"type": "category"}
    return figure


def _histogram(
    feature: str, layout: NumericLayout, pair: list[tuple[str, Profile, int]], title: str
) -> Figure:
    """Bars over the bins' value ranges, as high as the share of values per unit (the bins hold equal
    shares of the reference, not equal widths); the outer bins end at the lowest and highest value seen."""
    sketches = [profile.columns[feature] for _, profile, _ in pair]
    bounds = _bin_bounds(layout.edges, [s for s in sketches if isinstance(s, NumericSketch)])
    traces = []
    for name, profile, colour in pair:
        shares = profile.distribution(feature)
        kept = [(low, high, share) for (low, high), share in zip(bounds, shares, strict=True) if high > low]
        traces.append(
            {
                "type": "bar",
                "name": name,
                "x": [(low + high) / 2 for low, high, _ in kept],
                "width": [high - low for low, high, _ in kept],
                "y": _clean([share / (high - low) for low, high, share in kept]),
                "customdata": [[f"{low:.4g} – {high:.4g}", float(share)] for low, high, share in kept],
                "hovertemplate": "%{customdata[0]}: %{customdata[1]:.1%} of values",
                "marker": {"color": PALETTE[colour], "line": {"color": "#ffffff", "width": 0.5}},
                "opacity": 0.6,
            }
        )
    figure = _figure(traces, title, y={"title": {"text": "share per unit"}, "rangemode": "tozero"})
    assert figure is not None
    figure["layout"].update(barmode="overlay", hovermode="closest")
    figure["layout"]["xaxis"] = {"title": {"text": feature}, "type": "linear"}
    return figure


def _bin_bounds(edges: tuple[float, ...], sketches: list[NumericSketch]) -> list[tuple[float, float]]:
    """Each bin's value range; the open outer bins are closed at the smallest and largest value seen, or
    one typical bin width beyond the edge when those are not finite."""
    widths = [high - low for low, high in itertools.pairwise(edges)]
    typical = sorted(widths)[len(widths) // 2] if widths else max(abs(edges[0]) * 0.1, 1.0)
    lows = [s.min for s in sketches if s.min is not None and math.isfinite(s.min)]
    highs = [s.max for s in sketches if s.max is not None and math.isfinite(s.max)]
    lowest = min(lows) if lows and min(lows) < edges[0] else edges[0] - typical
    highest = max(highs) if highs and max(highs) > edges[-1] else edges[-1] + typical
    inner = list(itertools.pairwise(edges))
    return [(lowest, edges[0]), *inner, (edges[-1], highest)]


def _lines(
    windows: Sequence[StoredWindow],
    series: Sequence[tuple[str, ValueOf]],
    *,
    colours: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """A line per series and version; a version's windows with no value are gaps in its line."""
    groups = _by_version(windows)
    several = len(groups) > 1
    traces = []
    for dash, (version, group) in enumerate(groups.items()):
        for index, (name, value_of) in enumerate(series):
            colour = colours[index] if colours is not None else index
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": _named(name, version, several),
                    "x": [_when(window) for window in group],
                    "y": [_number(value_of(window.report)) for window in group],
                    "line": {"color": PALETTE[colour % len(PALETTE)], "dash": _DASHES[dash % len(_DASHES)]},
                    "marker": {"size": 5},
                    "meta": {"version": version, "series": name},
                }
            )
    return traces


def _figure(traces: list[dict[str, Any]], title: str, *, y: dict[str, Any]) -> Figure | None:
    """The figure of the ``traces`` that have a value (a numeric feature has no unseen categories), or None
    when none has."""
    traces = [trace for trace in traces if any(value is not None for value in trace["y"])]
    if not traces:
        return None
    return {
        "data": traces,
        "layout": {
            "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 14}},
            "xaxis": {"type": "date", "title": {"text": "window start (UTC)"}},
            "yaxis": y,
            "legend": {"orientation": "h", "y": -0.25},
            "hovermode": "x unified",
            "margin": {"l": 60, "r": 60, "t": 40, "b": 40},
            "height": 320,
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
        },
    }


def _percent_axis() -> dict[str, Any]:
    return {"tickformat": ".1%", "rangemode": "tozero"}


def _health(name: str) -> ValueOf:
    return lambda report: (report.get("health") or {}).get(name)


#: Each window's drift columns with data, by name, keyed by ``id`` of the window's report.
_ColumnsByReport = dict[int, dict[str, dict[str, Any]]]


def _columns_by_report(windows: Sequence[StoredWindow], key: str) -> _ColumnsByReport:
    """The drift columns (``key``: ``drift`` or ``output_drift``) of every window, indexed once per figure:
    a month of hourly windows asks for each column of each window several times."""
    indexed: _ColumnsByReport = {}
    for window in windows:
        found: dict[str, dict[str, Any]] = {}
        for column in (window.report.get(key) or {}).get("columns") or []:
            if not column.get("no_data"):
                found.setdefault(column.get("column"), column)
        indexed[id(window.report)] = found
    return indexed


def _drift_columns(columns: _ColumnsByReport, score: str) -> list[str]:
    """The columns that have ``score`` in some window, in the order the reports list them."""
    names: dict[str, None] = {}
    for found in columns.values():
        for name, column in found.items():
            if score in (column.get("scores") or {}):
                names[name] = None
    return list(names)


def _drift_score(columns: _ColumnsByReport, name: str, score: str) -> ValueOf:
    def value_of(report: dict[str, Any]) -> Any:
        column = columns[id(report)].get(name)
        return None if column is None else (column.get("scores") or {}).get(score)

    return value_of


def _mark_drift(
    trace: dict[str, Any], groups: dict[int, list[StoredWindow]], columns: _ColumnsByReport, score: str
) -> None:
    """Crosses where the window's verdict (by the column's deciding method) was drift, and the verdict in
    the hover text; ``groups`` are the windows by version (``_by_version``), grouped once per figure."""
    name, version = trace["meta"]["series"], trace["meta"]["version"]
    group = groups[version]
    verdicts = [_verdict(columns[id(window.report)].get(name)) for window in group]
    trace["marker"] = {
        "size": [9 if drifted else 5 for drifted, _ in verdicts],
        "symbol": [_DRIFTED if drifted else _CALM for drifted, _ in verdicts],
    }
    trace["text"] = [text for _, text in verdicts]
    trace["hovertemplate"] = f"%{{y:.3g}} {score} · %{{text}}"


def _verdict(column: dict[str, Any] | None) -> tuple[bool, str]:
    """Whether a column (None: no data in that window) drifted, and the deciding method's figure against
    its threshold."""
    if column is None:
        return False, "no data"
    method, threshold = column.get("method"), column.get("threshold")
    if column.get("p_value") is not None:
        figure = f"{method} p-value {column['p_value']:.3g} (drift below {threshold:g})"
    elif column.get("distance") is not None:
        figure = f"{method} {column['distance']:.3g} (drift from {threshold:g})"
    else:
        figure = str(method)
    return bool(column.get("drifted")), f"{'drift' if column.get('drifted') else 'no drift'}: {figure}"


def _threshold(column: dict[str, Any], score: str) -> float:
    """The threshold a column's ``score`` is judged against: the column's own when that score decides it."""
    if column.get("method") == score and column.get("threshold") is not None:
        return float(column["threshold"])
    return DEFAULT_THRESHOLDS[score]


def _by_version(windows: Sequence[StoredWindow]) -> dict[int, list[StoredWindow]]:
    groups: dict[int, list[StoredWindow]] = {}
    for window in sorted(windows, key=lambda w: (w.start, w.version)):
        groups.setdefault(window.version, []).append(window)
    return dict(sorted(groups.items(), reverse=True))  # the newest version first, drawn solid


def _named(name: str, version: int, several: bool) -> str:
    return f"{name} · v{version}" if several else name


def _when(window: StoredWindow) -> str:
    return _time_text(window.start)


@functools.lru_cache(maxsize=16384)
def _time_text(moment: datetime) -> str:
    """``moment`` as Plotly reads it, formatted once: a month of hourly windows repeats each start in every
    trace of every chart, and ``strftime`` was a tenth of a model page's time (bench/control_plane.py)."""
    return moment.strftime(_TIME_FORMAT)


def _number(value: Any) -> float | None:
    """A finite float, or None (a gap): NaN and infinities are not JSON."""
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _clean(values: Sequence[float]) -> list[float | None]:
    return [_number(value) for value in values]
