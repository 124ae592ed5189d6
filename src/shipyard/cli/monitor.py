"""``shipyard monitor``: compute monitoring windows over the prediction log, and show what they found."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from shipyard.cli import render
from shipyard.cli.common import JsonFlag, open_registry
from shipyard.errors import InvalidInput

monitor_app = typer.Typer(
    help="Drift, data quality, accuracy and health per time window.", no_args_is_help=True
)

ReferenceArgument = Annotated[str, typer.Argument(help="fraud (every version), fraud@production or fraud/3.")]
WindowOption = Annotated[str, typer.Option("--window", "-w", help="Window length: 15m, 1h, 1d…")]
SinceOption = Annotated[str | None, typer.Option("--from", help="Start (ISO time, UTC; default 24 h ago).")]
UntilOption = Annotated[str | None, typer.Option("--to", help="End (ISO time, UTC, or 'now'; default now).")]


@monitor_app.command("run")
def monitor_run(
    reference: ReferenceArgument,
    since: SinceOption = None,
    until: UntilOption = None,
    window: WindowOption = "1h",
    as_json: JsonFlag = False,
) -> None:
    """Monitor every window of a time range over the logged predictions, and store the results."""
    from shipyard.monitoring.series import logged_versions, monitor_range, parse_window
    from shipyard.predictions import PredictionLog

    length = parse_window(window)
    start, end = time_range(since, until)
    with open_registry(changes=True) as registry:
        log = PredictionLog(registry.settings.log_url)
        versions = logged_versions(registry, log, reference)
        # Each window's report is kept, not its sketches: memory holds a batch of windows, however long.
        reports = [result.to_dict() for result in monitor_range(registry, log, versions, start, end, length)]
    if as_json:
        render.emit_json(reports)
        return
    print_windows(reports)
    print_remedies(reports, set())


@monitor_app.command("show")
def monitor_show(
    reference: ReferenceArgument,
    window: WindowOption = "1h",
    last: Annotated[int, typer.Option("--last", "-n", help="How many of the newest windows.", min=1)] = 24,
    as_json: JsonFlag = False,
) -> None:
    """Show the stored windows of a model (or one version), newest last."""
    from shipyard.monitoring.series import parse_window, stored_windows

    length = parse_window(window)
    with open_registry() as registry:
        resolved = registry.resolve(reference)
        version = resolved.version if ("/" in reference or "@" in reference) else None
        found = stored_windows(registry, resolved.model, length, version=version, last=last)
        profiled = {
            stored.version
            for stored in found
            if registry.resolve(f"{resolved.model}/{stored.version}").profile is not None
        }
    if as_json:
        render.emit_json([stored.report for stored in found])
        return
    if not found:
        render.message(
            "no {} windows stored for {} yet; compute them with 'shipyard monitor run {} --window {}'",
            window,
            reference,
            reference,
            window,
        )
        return
    print_windows([stored.report for stored in found])
    print_remedies([stored.report for stored in found], profiled, window)


def time_range(since: str | None, until: str | None) -> tuple[datetime, datetime]:
    """``--from`` / ``--to`` as a range (default: the last 24 hours); the start must come first."""
    end = parse_time(until) if until else datetime.now(UTC)
    start = parse_time(since) if since else end - timedelta(hours=24)
    if end <= start:
        raise InvalidInput(f"--from must come before --to; got {start.isoformat()} and {end.isoformat()}")
    return start, end


def parse_time(text: str) -> datetime:
    """An ISO date or time (UTC when it names no zone), or ``now``."""
    if text.strip().lower() == "now":
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{text!r} is not an ISO time such as 2026-11-25T14:00 or 2026-11-25") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def print_windows(reports: list[dict[str, Any]]) -> None:
    """A row per window; a run of windows without data (a quiet night, a year before the first request)
    shares one row."""
    rows: list[tuple[Any, ...]] = []
    for (version, quiet), group in itertools.groupby(reports, key=lambda r: (r["version"], r["no_data"])):
        run = list(group)
        if quiet and len(run) > 1:
            span = f"{_when(run[0]['start'])} to {_when(run[-1]['start'])} ({len(run):,} windows)"
            rows.append((span, version, "no data", 0, "—", "—", "—", "—", "—", "—"))
            continue
        rows.extend(_window_row(report) for report in run)
    render.table(
        None,
        [
            "window (UTC)",
            "version",
            "rows",
            "requests",
            "drifted features",
            "drift share",
            "accuracy",
            "p95 ms",
            "errors",
            "refused",
        ],
        rows,
    )


def _window_row(report: dict[str, Any]) -> tuple[Any, ...]:
    drift = report.get("drift") or {}
    accuracy = report.get("accuracy") or {}
    health = report.get("health") or {}
    few = report.get("not_enough_data") or {}
    main_metric = next((name for name in ("accuracy", "rmse") if accuracy.get(name) is not None), None)
    if main_metric is None:
        shown = "—"
    elif "accuracy" in few:
        shown = f"{main_metric} {_number(accuracy[main_metric])} ({few['accuracy']})"
    else:
        shown = f"{main_metric} {_number(accuracy[main_metric])} ({report['labelled_rows']} labelled)"
    return (
        _when(report["start"]),
        report["version"],
        "no data" if report["no_data"] else report["rows"],
        report["requests"],
        _drifted_features(report),
        _number(drift.get("drifted_share")),
        shown,
        _number(health.get("latency_p95_ms")),
        _number(health.get("error_rate")),
        _number(health.get("rejected_rate")),
    )


def _when(iso: str) -> str:
    return iso[:16].replace("T", " ")


def _drifted_features(report: dict[str, Any]) -> str:
    """The drifted features, "—" for none (or no data), or "n/a" with the reason drift was not computed."""
    from shipyard.monitoring.report import missing_drift

    drift = report.get("drift")
    few = (report.get("not_enough_data") or {}).get("drift")
    if drift is not None and few and not drift.get("drifted_columns"):
        return few
    if drift is not None:
        return ", ".join(drift.get("drifted_columns") or []) or "—"
    missing = missing_drift(report)
    return "—" if missing is None else f"n/a — {missing.reason}"


def print_remedies(reports: list[dict[str, Any]], profiled: set[int], window: str = "1h") -> None:
    """Under a table of windows: what to do, once per version, about windows whose drift was not computed.

    A version in ``profiled`` has a reference profile now, so its windows were computed before it had one.
    """
    from shipyard.monitoring.report import missing_drift

    said: set[str] = set()
    for report in reports:
        missing = missing_drift(report)
        if missing is None or missing.remedy is None:
            continue
        ref = f"{report['model']}/{report['version']}"
        if report["version"] in profiled:
            text = (
                f"{ref} has a reference profile now, added after these windows were computed: compute them "
                f"again with `shipyard monitor run {ref} --from {report['start'][:16]} --window {window}`"
            )
        else:
            text = str(missing)
        if ref not in said:
            said.add(ref)
            render.message("{}", text)


def _number(value: object) -> str:
    return "—" if value is None else f"{value:.3g}" if isinstance(value, float) else str(value)


report_app = typer.Typer(
    help="Reports over the prediction log: HTML (self-contained) or JSON.", no_args_is_help=True
)


@report_app.command("drift")
def report_drift(
    reference: Annotated[str, typer.Argument(help="fraud@production or fraud/3.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="report.html, or a .json file for machines.")
    ],
    since: SinceOption = None,
    until: UntilOption = None,
    window: WindowOption = "1h",
) -> None:
    """Write a drift report: distributions reference vs current, drift over time, quality, accuracy."""
    import json

    from shipyard.monitoring.report import build_drift_report, render_html
    from shipyard.monitoring.series import parse_window
    from shipyard.predictions import PredictionLog

    length = parse_window(window)
    start, end = time_range(since, until)
    with open_registry() as registry:
        report = build_drift_report(
            registry, PredictionLog(registry.settings.log_url), reference, start, end, length
        )
    if output.suffix.lower() == ".json":
        output.write_text(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        output.write_text(render_html(report), encoding="utf-8")
    render.message("wrote {} ({} bytes)", output, f"{output.stat().st_size:,}")
    for line in report.headline():
        render.message("{}", line)
