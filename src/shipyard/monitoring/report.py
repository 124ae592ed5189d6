"""Drift reports: one self-contained HTML file (inline SVG charts, no script) or JSON for machines.

A report covers a time range of one model version's logged predictions, window by window (those windows are
stored as ``shipyard monitor run`` stores them). It is headed by the windows' verdicts: which windows drift
as a dataset, which features drift in which windows. A drift confined to one window is news even when the
rest of the range is calm, so the report never leads with the range taken as a whole. That pooled figure
(every row of the range compared at once with the reference) comes second, labelled as such, with the
reference-against-range distribution of every feature.

The HTML has no script and fetches nothing: its charts are SVG drawn by ``monitoring.charts``, so it opens
anywhere, offline, and weighs kilobytes.
"""

from __future__ import annotations

import functools
import html
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from shipyard.monitoring.charts import Cell, Series, bar_chart, line_chart, verdict_grid
from shipyard.monitoring.series import run_monitors, window_label
from shipyard.monitoring.windows import WindowResult, monitor_window
from shipyard.predictions import PredictionLog
from shipyard.registry import ModelVersion, Registry
from shipyard.stats import NumericLayout
from shipyard.stats.drift import ColumnDrift

VerdictName = Literal[
    "dataset drift", "feature drift", "no drift", "not enough data", "no data", "not computed"
]
_TESTS = ("ks", "chi_square")  # methods decided by a p-value (low = drift); the others by a distance
_SHOWN_WINDOWS = 5  # drifted windows named in the headline; the table lists every one


@dataclass(frozen=True)
class WindowVerdict:
    """What one window says about drift: the dataset drifts, some features do, none do, or why unknown."""

    start: datetime
    end: datetime
    verdict: VerdictName
    rows: int
    drifted_columns: list[str]
    drifted_share: float | None
    reason: str | None = None  # why drift was not computed, or why there is no verdict

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "verdict": self.verdict,
            "rows": self.rows,
            "drifted_columns": list(self.drifted_columns),
            "drifted_share": self.drifted_share,
            "reason": self.reason,
        }


@dataclass
class DriftReport:
    version: ModelVersion
    start: datetime
    end: datetime
    window: timedelta
    #: The windows, oldest first: the report's verdicts.
    windows: list[WindowResult]
    #: Every row of the range as one window: its distributions, and a figure that dilutes short drifts.
    pooled: WindowResult

    @functools.cached_property
    def verdicts(self) -> list[WindowVerdict]:
        return [window_verdict(result) for result in self.windows]

    def headline(self) -> list[str]:
        """The report's first lines: the windows' verdicts, the features that drifted, then the pooled
        figure, labelled as such."""
        verdicts = self.verdicts
        lines = [_windows_line(verdicts, window_label(self.window))]
        features = _feature_line(verdicts)
        if features:
            lines.append(features)
        lines.append(_pooled_line(self.pooled))
        return lines

    def to_dict(self) -> dict[str, Any]:
        """The report for machines. Windows without data are listed as runs (start, end, how many), not one
        by one: a year of hourly windows with a few busy hours stays a small document."""
        verdicts = self.verdicts
        pairs = zip(self.windows, verdicts, strict=True)
        busy = [(result, verdict) for result, verdict in pairs if not result.no_data]
        return {
            "model": self.version.model,
            "version": self.version.version,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "window": window_label(self.window),
            "headline": self.headline(),
            "verdicts": {
                "windows": len(verdicts),
                "windows_with_data": len(busy),
                "dataset_drift_windows": [v.to_dict() for v in verdicts if v.verdict == "dataset drift"],
                "drifting_windows_per_feature": _feature_counts(verdicts),
                "per_window": [verdict.to_dict() for _, verdict in busy],
                "no_data": _quiet_runs(self.windows),
            },
            "windows": [result.to_dict() for result, _ in busy],
            "pooled": {
                "description": "every row of the range compared with the reference as one window",
                **self.pooled.to_dict(),
            },
            "distributions": _distributions(self),
        }


def _quiet_runs(windows: list[WindowResult]) -> list[dict[str, Any]]:
    """Each run of consecutive windows without data: its first start, last end and length."""
    runs = []
    for quiet, group in itertools.groupby(windows, key=lambda result: result.no_data):
        if quiet:
            run = list(group)
            runs.append(
                {"start": run[0].start.isoformat(), "end": run[-1].end.isoformat(), "windows": len(run)}
            )
    return runs


def build_drift_report(
    registry: Registry, log: PredictionLog, reference: str, start: datetime, end: datetime, window: timedelta
) -> DriftReport:
    version = registry.resolve(reference)
    windows = run_monitors(registry, log, [version], start, end, window)
    pooled = monitor_window(registry, log, version, start, end)
    return DriftReport(version, start, end, window, windows, pooled)


def window_verdict(result: WindowResult) -> WindowVerdict:
    """A window's drift verdict; one without requests is "no data", one without a drift result says why, and
    one with too few rows for a verdict says how many it had and needs."""
    drift = result.drift
    reason = None
    if result.no_data:
        verdict: VerdictName = "no data"
    elif drift is None:
        verdict = "not computed"
        reason = str(missing_drift(result.to_dict()))
    elif drift.insufficient:
        verdict = "not enough data"
        reason = result.insufficient.get("dataset_drift")
    elif drift.drifted:
        verdict = "dataset drift"
    else:
        verdict = "feature drift" if drift.drifted_columns else "no drift"
    return WindowVerdict(
        result.start,
        result.end,
        verdict,
        result.rows,
        drift.drifted_columns if drift else [],
        drift.drifted_share if drift else None,
        reason,
    )


@dataclass(frozen=True)
class MissingDrift:
    """Why a window with data has no drift verdict (``reason``), and what to do about it (``remedy``)."""

    reason: str
    remedy: str | None = None

    def __str__(self) -> str:
        return f"{self.reason}: {self.remedy}" if self.remedy else self.reason


def missing_drift(window: dict[str, Any]) -> MissingDrift | None:
    """Why a window (a stored report, or ``WindowResult.to_dict()``) with data has no drift verdict; None
    when it has one, or has no data."""
    if window.get("drift") is not None or window.get("no_data"):
        return None
    ref = f"{window['model']}/{window['version']}"
    if any("no reference profile" in note for note in window.get("notes") or []):
        return MissingDrift(
            f"{ref} has no reference profile",
            f"register it with --reference or run `shipyard profile build {ref} DATA`",
        )
    if not window.get("rows"):
        return MissingDrift("every request was refused, so no answered row to compare")
    return MissingDrift(f"the reference profile of {ref} covers none of the model's input columns")


def _windows_line(verdicts: list[WindowVerdict], length: str) -> str:
    with_data = [v for v in verdicts if v.verdict != "no data"]
    if not with_data:
        return f"No data: none of the {len(verdicts)} windows ({length}) logged a request."
    few = [v for v in with_data if v.verdict == "not enough data"]
    judged = [v for v in with_data if v.verdict != "not enough data"]
    empty = len(verdicts) - len(with_data)
    asides = [f"{len(few)} more with too few rows for a verdict"] if few and judged else []
    asides += [f"{empty} more without data"] if empty else []
    scope = f"({'; '.join([length, *asides])})"
    if not judged:
        busiest = max(few, key=lambda v: v.rows)
        every = "the one window" if len(few) == 1 else f"any of the {len(few)} windows"
        return f"No drift verdict in {every} {scope}: {busiest.reason or 'not enough data'} at the busiest."
    count = len(judged)
    every = "the one window" if count == 1 else f"any of the {count} windows"
    drifted = [v for v in judged if v.verdict == "dataset drift"]
    if drifted:
        named = "; ".join(
            f"{_when(v.start)} ({', '.join(v.drifted_columns)})" for v in drifted[:_SHOWN_WINDOWS]
        )
        more = f"; and {len(drifted) - _SHOWN_WINDOWS} more" if len(drifted) > _SHOWN_WINDOWS else ""
        return f"Dataset drift in {len(drifted)} of {count} windows {scope}: {named}{more}."
    unknown = [v for v in judged if v.verdict == "not computed"]
    if len(unknown) == count:
        return f"Drift not computed in {every} {scope}: {unknown[0].reason}."
    some = [v for v in judged if v.verdict == "feature drift"]
    if some:
        return f"No dataset drift in {every} {scope}; some features drift in {len(some)} of them."
    return f"No drift in {every} {scope}."


def _feature_counts(verdicts: list[WindowVerdict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for verdict in verdicts:
        for name in verdict.drifted_columns:
            counts[name] = counts.get(name, 0) + 1
    return counts


def _feature_line(verdicts: list[WindowVerdict]) -> str | None:
    counts = _feature_counts(verdicts)
    if not counts:
        return None
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    listed = ", ".join(f"{name} in {count} {'window' if count == 1 else 'windows'}" for name, count in ranked)
    return f"Features that drift in at least one window: {listed}."


def _pooled_line(pooled: WindowResult) -> str:
    label = (
        f"Pooled over the whole range ({pooled.rows:,} rows compared as one window, which dilutes a drift "
    )
    label += "confined to a few windows)"
    if pooled.drift is None:
        reason = missing_drift(pooled.to_dict()) or "no request was logged"
        return f"{label}: drift not computed, {reason}."
    drifted = ", ".join(pooled.drift.drifted_columns) or "none"
    return f"{label}: drifted features: {drifted}; dataset drift: {'yes' if pooled.drift.drifted else 'no'}."


def _distributions(report: DriftReport) -> dict[str, Any]:
    """Per feature: bin or category labels with the reference's and the pooled range's proportions, and
    those of the window where the feature drifted most (by PSI, which every method computes), if any."""
    reference, current = report.pooled.reference_profile, report.pooled.profile
    if reference is None or current is None:
        return {}
    found: dict[str, Any] = {}
    for name, layout in reference.layout.columns.items():
        if isinstance(layout, NumericLayout):
            edges = [f"{edge:.4g}" for edge in layout.edges]
            labels = [f"< {edges[0]}"] if edges else ["all values"]
            labels += [f"{low} – {high}" for low, high in itertools.pairwise(edges)]
            labels += [f"≥ {edges[-1]}"] if edges else []
        else:
            labels = [str(value) for value in layout.vocabulary] + ["(other)"]
        found[name] = {
            "labels": labels,
            "reference": reference.distribution(name).tolist(),
            "current": current.distribution(name).tolist(),
            "most_drifted_window": _most_drifted_window(report.windows, name),
        }
    return found


def _most_drifted_window(windows: list[WindowResult], name: str) -> dict[str, Any] | None:
    drifted = [
        (column.scores.get("psi", 0.0), result)
        for result in windows
        if (column := _column(result, name)) is not None and column.drifted and result.profile is not None
    ]
    if not drifted:
        return None
    _, result = max(drifted, key=lambda pair: pair[0])
    assert result.profile is not None
    return {"start": result.start.isoformat(), "shares": result.profile.distribution(name).tolist()}


def render_html(report: DriftReport) -> str:
    """The report as one HTML page: the windows' verdicts first, then the pooled range, then the charts."""
    data = report.to_dict()
    headline = data["headline"]
    title = f"Drift report — {report.version.ref}"
    features = headline[1] if len(headline) == 3 else ""
    distributions = [
        _distribution_chart(report, name, spread) for name, spread in data["distributions"].items()
    ]
    over_time = [
        _section("drift-over-time", _drift_over_time_chart(report, list(data["distributions"]))),
        _section("quality", *_quality_charts(report, list(data["distributions"]))),
        _section("service", *_service_charts(report)),
        _section("accuracy", *_accuracy_charts(report)),
    ]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p id="range">{_when(report.start)} to {_when(report.end)} UTC, windows of {html.escape(data["window"])};
generated {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}.</p>
<section id="verdict"><h2>Window by window</h2>
<p id="headline"><b>{html.escape(headline[0])}</b></p>
{f'<p id="features">{html.escape(features)}</p>' if features else ""}
{_verdict_chart(report)}
</section>
<section id="pooled"><h2>The whole range pooled</h2><p>{html.escape(headline[-1])}</p></section>
<h2>Distributions: reference (training) against the range</h2>
{"".join(distributions)}
<h2>Over time</h2>
{"".join(over_time)}
<h2>Every window</h2>
<table id="windows"><tr>{"".join(f"<th>{name}</th>" for name in _TABLE_HEADER)}</tr>
{_summary_rows(report)}</table>
</body></html>
"""


_TABLE_HEADER = (
    "window (UTC)",
    "verdict",
    "rows",
    "drifted features",
    "drift share",
    "accuracy / rmse",
    "labelled",
    "p95 ms",
    "error rate",
    "refused",
)
_STYLE = """body{font-family:system-ui,sans-serif;margin:2rem;max-width:1200px;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem}
tr.drift td{background:#fde0dd}#headline{font-size:1.15rem}section{margin:1.5rem 0}
svg.chart{display:block;max-width:100%;height:auto;margin:.5rem 0}
svg.chart text{font:11px system-ui,sans-serif;fill:#333}svg.chart text.title{font-size:14px;font-weight:600}
svg.chart polyline{fill:none;stroke-width:1.8}svg.chart line.grid{stroke:#e6e6e6}
svg.chart rect.hover{fill:transparent}svg.chart rect.hover:hover{fill:rgba(0,0,0,.06)}"""


def _section(key: str, *charts: str) -> str:
    return f'<section id="{html.escape(key)}">{"".join(charts)}</section>'


def _verdict_chart(report: DriftReport) -> str:
    """Features (and the dataset) by window, coloured by verdict, each cell's scores on hover."""
    starts = [result.start for result in report.windows]
    names = list(report.pooled.reference_profile.layout.columns) if report.pooled.reference_profile else []
    dataset = [_dataset_cell(verdict) for verdict in report.verdicts]
    rows = [("dataset", dataset)]
    for name in names:
        rows.append((name, [_feature_cell(result, name) for result in report.windows]))
    return verdict_grid("drift verdict per window (hover a cell for its scores)", starts, rows)


def _dataset_cell(verdict: WindowVerdict) -> Cell:
    when = _when(verdict.start)
    if verdict.verdict in ("no data", "not computed", "not enough data"):
        return Cell(verdict.verdict, f"{when}: {verdict.reason or 'no request logged'}")
    share = f"{verdict.drifted_share:.0%} of features drift" if verdict.drifted_share is not None else ""
    state: Literal["drift", "calm"] = "drift" if verdict.verdict == "dataset drift" else "calm"
    return Cell(state, f"{when}, {verdict.rows:,} rows: {verdict.verdict} ({share})")


def _feature_cell(result: WindowResult, name: str) -> Cell:
    when = _when(result.start)
    column = _column(result, name)
    if result.no_data or (column is not None and column.no_data):
        return Cell("no data", f"{name}, {when}: no data")
    if column is None:
        return Cell("not computed", f"{name}, {when}: drift not computed")
    if column.insufficient:
        needs = result.minimums.drift
        return Cell(
            "not enough data",
            f"{name}, {when}: not enough data ({column.current_count} values, needs {needs})",
        )
    return Cell("drift" if column.drifted else "calm", f"{name}, {when}: {_column_text(column)}")


def _column_text(column: ColumnDrift) -> str:
    """``DRIFT — ks p-value 0.0013 (drift below 0.05), psi 0.41``: the verdict, the deciding method's
    figure against its threshold, and PSI (which every window computes, whatever decides)."""
    verdict = "DRIFT" if column.drifted else "no drift"
    if column.method in _TESTS:
        deciding = f"{column.method} p-value {_figure(column.p_value)} (drift below {column.threshold:g})"
    else:
        deciding = f"{column.method} {_figure(column.distance)} (drift from {column.threshold:g})"
    psi = column.scores.get("psi")
    extra = "" if psi is None or column.method == "psi" else f", psi {psi:.3g}"
    return f"{verdict} — {deciding}{extra}"


def _figure(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def _distribution_chart(report: DriftReport, name: str, spread: dict[str, Any]) -> str:
    """A feature's shares per bin: the reference, the pooled range, and the window where it drifted most."""
    pooled = _column(report.pooled, name)
    verdict = "pooled: no data" if pooled is None or pooled.no_data else f"pooled: {_column_text(pooled)}"
    series = [
        Series("reference (training)", spread["reference"], 0),
        Series("the whole range, pooled", spread["current"], 1),
    ]
    window = spread["most_drifted_window"]
    if window is not None:
        series.append(
            Series(f"window {_when(datetime.fromisoformat(window['start']))} (drifted)", window["shares"], 2)
        )
    chart = bar_chart(f"{name} — {verdict}", spread["labels"], series, percent=True)
    return _section(f"distribution-{name}", chart)


def _drift_over_time_chart(report: DriftReport, names: list[str]) -> str:
    """PSI per feature and window: every window computes it, so the line means one thing throughout
    (the verdicts, by each window's deciding method, are the grid's)."""
    starts = [result.start for result in report.windows]
    series = [
        Series(name, [_psi(result, name) for result in report.windows], index)
        for index, name in enumerate(names)
    ]
    title = "population stability index (PSI) per window: higher = more drift"
    return line_chart(title, starts, series)


def _quality_charts(report: DriftReport, names: list[str]) -> list[str]:
    """A chart per quality figure, a line per feature: shares of rows missing, out of range, refused."""
    starts = [result.start for result in report.windows]
    charts = []
    for figure, title in (
        ("missing_rate", "missing values per window (share of answered rows)"),
        ("out_of_range_share", "numbers outside the reference's range per window"),
        ("rejected_share", "rows refused by the contract per window (share of rows sent)"),
    ):
        series = [
            Series(name, [_quality(result, name, figure) for result in report.windows], index)
            for index, name in enumerate(names)
        ]
        charts.append(line_chart(title, starts, series, percent=True))
    return charts


def _service_charts(report: DriftReport) -> list[str]:
    """Requests answered without a prediction (errors, refusals), and latency of the answered ones."""
    starts = [result.start for result in report.windows]
    failures = [
        Series("errors (5xx)", [result.health.get("error_rate") for result in report.windows], 2),
        Series("refused (4xx)", [result.health.get("rejected_rate") for result in report.windows], 1),
    ]
    latency = [
        Series(f"p{q} latency", [result.health.get(f"latency_p{q}_ms") for result in report.windows], index)
        for index, q in enumerate((50, 95, 99))
    ]
    return [
        line_chart("service health: share of requests without a prediction", starts, failures, percent=True),
        line_chart("latency of answered requests", starts, latency, y_label="ms"),
    ]


def _accuracy_charts(report: DriftReport) -> list[str]:
    """Every accuracy metric per window once labels arrived, and the count of labelled rows behind it."""
    starts = [result.start for result in report.windows]
    metric_names = sorted({name for result in report.windows for name in result.accuracy})
    metrics = [
        Series(metric, [result.accuracy.get(metric) for result in report.windows], index)
        for index, metric in enumerate(metric_names)
    ]
    counts = [None if result.no_data else float(result.labelled_rows) for result in report.windows]
    labelled = [Series("labelled rows", counts, 0)]
    return [
        line_chart("accuracy once labels arrived", starts, metrics),
        line_chart("labelled rows per window", starts, labelled),
    ]


def _summary_rows(report: DriftReport) -> str:
    """The table's rows, one per window (a run of windows without data shares one), every cell escaped;
    windows whose dataset drifts stand out."""
    rows: list[str] = []
    pairs = list(zip(report.windows, report.verdicts, strict=True))
    for no_data, group in itertools.groupby(pairs, key=lambda pair: pair[0].no_data):
        run = list(group)
        if no_data and len(run) > 1:
            span = f"{_when(run[0][0].start)} to {_when(run[-1][0].start)} ({len(run)} windows)"
            rows.append(_row("", (span, "no data", "no data", "—", "—", "—", 0, "—", "—", "—")))
            continue
        for result, verdict in run:
            cells = (
                _when(result.start),
                f"not computed: {verdict.reason}" if verdict.reason else verdict.verdict,
                "no data" if result.no_data else result.rows,
                ", ".join(verdict.drifted_columns) or "—",
                _fmt(verdict.drifted_share),
                _fmt(result.accuracy.get("accuracy", result.accuracy.get("rmse"))),
                result.labelled_rows,
                _fmt(result.health.get("latency_p95_ms")),
                _fmt(result.health.get("error_rate")),
                _fmt(result.health.get("rejected_rate")),
            )
            rows.append(_row("drift" if verdict.verdict == "dataset drift" else "", cells))
    return "\n".join(rows)


def _row(marked: str, cells: tuple[object, ...]) -> str:
    opening = f'<tr class="{marked}">' if marked else "<tr>"
    return opening + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in cells) + "</tr>"


def _column(result: WindowResult, name: str) -> ColumnDrift | None:
    if result.drift is None:
        return None
    return next((column for column in result.drift.columns if column.column == name), None)


def _psi(result: WindowResult, name: str) -> float | None:
    column = _column(result, name)
    return None if column is None else column.scores.get("psi")


def _quality(result: WindowResult, name: str, figure: str) -> float | None:
    quality = result.quality.get(name)
    return None if quality is None else quality.to_dict().get(figure)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def _fmt(value: object) -> str:
    return "—" if value is None else f"{value:.3g}" if isinstance(value, float) else str(value)
