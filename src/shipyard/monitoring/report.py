"""Drift reports: one self-contained HTML file (Plotly, offline) or JSON for machines.

A report covers a time range of one model version's logged predictions. It monitors the whole range as one
window (for the reference-vs-current distribution of every feature and the overall verdict) and window by
window (for drift scores, data quality and accuracy over time; those windows are stored like ``shipyard
monitor run`` stores them). The HTML embeds plotly.js, so it opens anywhere, offline, with no server.
"""

from __future__ import annotations

import html
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shipyard.monitoring.series import run_monitors, window_label
from shipyard.monitoring.windows import WindowResult, monitor_window
from shipyard.predictions import PredictionLog
from shipyard.registry import ModelVersion, Registry
from shipyard.stats import NumericLayout, Profile


@dataclass(frozen=True)
class DriftReport:
    version: ModelVersion
    start: datetime
    end: datetime
    window: timedelta
    overall: WindowResult
    windows: list[WindowResult]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.version.model,
            "version": self.version.version,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "window": window_label(self.window),
            "overall": self.overall.to_dict(),
            "windows": [result.to_dict() for result in self.windows],
            "distributions": _distributions(self.overall.reference_profile, self.overall.profile),
        }


def build_drift_report(
    registry: Registry, log: PredictionLog, reference: str, start: datetime, end: datetime, window: timedelta
) -> DriftReport:
    version = registry.resolve(reference)
    overall = monitor_window(registry, log, version, start, end)
    windows = run_monitors(registry, log, [version], start, end, window)
    return DriftReport(version, start, end, window, overall, windows)


def _distributions(reference: Profile | None, current: Profile | None) -> dict[str, Any]:
    """Per feature: bin or category labels with the reference's and the range's proportions."""
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
        }
    return found


def render_html(report: DriftReport) -> str:
    """The report as one HTML page with every chart drawn by the embedded plotly.js."""
    from plotly.offline import get_plotlyjs

    data = report.to_dict()
    overall = report.overall
    figures = [
        *_distribution_figures(report, data["distributions"]),
        ("drift-over-time", _drift_over_time_figure(report, data["distributions"])),
        ("quality", _quality_figure(report, data["distributions"])),
        ("service", _service_figure(report)),
        ("accuracy", _accuracy_figure(report)),
    ]
    charts = "\n".join(
        f'<section id="{key}">{figure.to_html(full_html=False, include_plotlyjs=False)}</section>'
        for key, figure in figures
    )
    drifted = ", ".join(overall.drift.drifted_columns) if overall.drift else "not computed"
    title = f"Drift report — {report.version.ref}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<script>{get_plotlyjs()}</script>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:1200px}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3rem .6rem}}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p id="range">{html.escape(data["start"])} to {html.escape(data["end"])},
windows of {html.escape(data["window"])}; generated {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}.</p>
<p id="verdict">Over the whole range: {overall.rows} rows; drifted features: <b>{html.escape(drifted)}</b>
(dataset drift: {"yes" if overall.drift and overall.drift.drifted else "no"}).</p>
<table id="windows"><tr><th>window (UTC)</th><th>rows</th><th>drifted features</th><th>drift share</th>
<th>accuracy / rmse</th><th>labelled</th><th>p95 ms</th><th>error rate</th><th>refused</th></tr>
{_summary_rows(report)}</table>
{charts}
</body></html>
"""


def _distribution_figures(report: DriftReport, distributions: dict[str, Any]) -> list[tuple[str, Any]]:
    """One bar chart per feature: the reference's and the range's shares side by side, titled by verdict."""
    import plotly.graph_objects as go

    overall = report.overall
    figures: list[tuple[str, Any]] = []
    for name, spread in distributions.items():
        column = next((c for c in (overall.drift.columns if overall.drift else []) if c.column == name), None)
        verdict = (
            "no data" if column is None or column.no_data else ("DRIFT" if column.drifted else "no drift")
        )
        score = "" if column is None or column.score is None else f" — {column.method} {column.score:.3g}"
        figure = go.Figure(
            [
                go.Bar(name="reference (training)", x=spread["labels"], y=spread["reference"]),
                go.Bar(name="current (this range)", x=spread["labels"], y=spread["current"]),
            ]
        )
        figure.update_layout(barmode="group", title=f"{name}: {verdict}{score}", yaxis_title="share of rows")
        figures.append((f"distribution-{name}", figure))
    return figures


def _drift_over_time_figure(report: DriftReport, distributions: dict[str, Any]) -> Any:
    """Each feature's drift score, window by window."""
    import plotly.graph_objects as go

    starts = [result.start for result in report.windows]
    figure = go.Figure()
    for name in distributions:
        values = [_column_score(result, name) for result in report.windows]
        figure.add_trace(_line(starts, values, name))
    figure.update_layout(title="drift score per window (the deciding method's statistic)")
    return figure


def _quality_figure(report: DriftReport, distributions: dict[str, Any]) -> Any:
    """Per feature and window: the share missing, out of range, and rejected by the contract."""
    import plotly.graph_objects as go

    starts = [result.start for result in report.windows]
    figure = go.Figure()
    quality_figures = (
        ("missing_rate", "missing", "solid"),
        ("out_of_range_share", "out of range", "dot"),
        ("rejected_share", "rejected by the contract", "dash"),
    )
    for name in distributions:
        for figure_name, label, dash in quality_figures:
            values = [_quality(result, name, figure_name) for result in report.windows]
            figure.add_trace(_line(starts, values, f"{name} {label}", line={"dash": dash}))
    figure.update_layout(title="data quality per window", yaxis_title="share of rows")
    return figure


def _service_figure(report: DriftReport) -> Any:
    """Requests answered without a prediction (errors, refusals) and p99 latency on a second axis."""
    import plotly.graph_objects as go

    starts = [result.start for result in report.windows]
    figure = go.Figure()
    for name, label in (("error_rate", "errors (5xx)"), ("rejected_rate", "refused (4xx)")):
        figure.add_trace(_line(starts, [result.health.get(name) for result in report.windows], label))
    figure.add_trace(
        _line(
            starts,
            [result.health.get("latency_p99_ms") for result in report.windows],
            "p99 latency (ms)",
            yaxis="y2",
            line={"dash": "dot"},
        )
    )
    figure.update_layout(
        title="service health: share of requests without a prediction, and latency",
        yaxis_title="share of requests",
        yaxis2={"overlaying": "y", "side": "right", "title": "ms"},
    )
    return figure


def _accuracy_figure(report: DriftReport) -> Any:
    """Every accuracy metric per window once labels arrived, over the count of labelled rows behind it."""
    import plotly.graph_objects as go

    starts = [result.start for result in report.windows]
    figure = go.Figure()
    metric_names = sorted({name for result in report.windows for name in result.accuracy})
    for metric in metric_names:
        figure.add_trace(_line(starts, [result.accuracy.get(metric) for result in report.windows], metric))
    figure.add_trace(
        go.Bar(
            x=starts,
            y=[result.labelled_rows for result in report.windows],
            name="labelled rows",
            yaxis="y2",
            opacity=0.3,
        )
    )
    figure.update_layout(title="accuracy once labels arrived", yaxis2={"overlaying": "y", "side": "right"})
    return figure


def _summary_rows(report: DriftReport) -> str:
    """The summary table's rows, one per window, every cell escaped."""
    return "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(cell))}</td>"
            for cell in (
                result.start.strftime("%Y-%m-%d %H:%M"),
                "no data" if result.no_data else result.rows,
                ", ".join(result.drift.drifted_columns) if result.drift else "—",
                _fmt(result.drift.drifted_share if result.drift else None),
                _fmt(result.accuracy.get("accuracy", result.accuracy.get("rmse"))),
                result.labelled_rows,
                _fmt(result.health.get("latency_p95_ms")),
                _fmt(result.health.get("error_rate")),
                _fmt(result.health.get("rejected_rate")),
            )
        )
        + "</tr>"
        for result in report.windows
    )


def _line(x: list[Any], y: list[Any], name: str, **style: Any) -> Any:
    """A series over the windows: a line with a marker per window."""
    import plotly.graph_objects as go

    return go.Scatter(x=x, y=y, mode="lines+markers", name=name, **style)


def _column_score(result: WindowResult, name: str) -> float | None:
    if result.drift is None:
        return None
    column = next((c for c in result.drift.columns if c.column == name), None)
    return None if column is None else column.score


def _quality(result: WindowResult, name: str, figure: str) -> float | None:
    quality = result.quality.get(name)
    return None if quality is None else quality.to_dict().get(figure)


def _fmt(value: object) -> str:
    return "—" if value is None else f"{value:.3g}" if isinstance(value, float) else str(value)
