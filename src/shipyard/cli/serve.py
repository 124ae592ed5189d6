"""``shipyard serve``: the options of ``shipyard.serve`` as flags; the server and its processes are its."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli import render
from shipyard.cli.common import require_workspace, state

TokenFileOption = Annotated[
    Path | None,
    typer.Option(
        "--token-file",
        help="Require 'Authorization: Bearer TOKEN', the token read from this file "
        "(else from $SHIPYARD_SERVE_TOKEN).",
        dir_okay=False,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", help="The token itself: visible to other users in 'ps'; prefer --token-file."),
]
MonitorFlag = Annotated[
    bool,
    typer.Option(
        "--monitor/--no-monitor", help="Run the monitoring runner beside the server (needs the log)."
    ),
]
AlertsFlag = Annotated[
    bool,
    typer.Option(
        "--alerts/--no-alerts", help="Evaluate the alert rules after each monitoring run (needs monitors)."
    ),
]
RolloutsFlag = Annotated[
    bool,
    typer.Option(
        "--rollouts/--no-rollouts",
        help="Run the rollout controller beside the server: it advances, promotes and aborts rollouts.",
    ),
]
RetrainFlag = Annotated[
    bool,
    typer.Option(
        "--retrain/--no-retrain",
        help="Watch the retraining triggers beside the server (when shipyard.toml declares policies).",
    ),
]
RetrainIntervalOption = Annotated[
    float, typer.Option("--retrain-interval", help="Seconds between looks at retraining triggers.", min=1.0)
]
EngineOption = Annotated[
    str,
    typer.Option(
        "--engine",
        help="local (uvicorn worker processes here) or ray (--workers Ray Serve replicas on the ray_address "
        "cluster, else a local Ray).",
    ),
]
RolloutIntervalOption = Annotated[
    float, typer.Option("--rollout-interval", help="Seconds between rollout controller passes.", min=0.5)
]


def serve_command(
    references: Annotated[list[str], typer.Argument(help="Models to serve: fraud@production churn/3 …")],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)] = 8080,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes (replicas with --engine ray).", min=1, max=64)
    ] = 1,
    engine: EngineOption = "local",
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    max_body_mb: Annotated[
        float, typer.Option("--max-body-mb", help="Largest request body accepted.", min=0.001)
    ] = 10.0,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds a request may wait for its batch.", min=0.01)
    ] = 10.0,
    max_batch_rows: Annotated[
        int, typer.Option("--max-batch-rows", help="Rows per predict call, at most.", min=1)
    ] = 512,
    max_queue_rows: Annotated[
        int, typer.Option("--max-queue-rows", help="Queued rows before 503.", min=1)
    ] = 20_000,
    trust: Annotated[bool, typer.Option("--trust", help="Allow formats that can run code on load.")] = False,
    log_predictions: Annotated[
        bool,
        typer.Option(
            "--log/--no-log", help="Write every prediction to the prediction log (the workspace's log_url)."
        ),
    ] = True,
    monitor: MonitorFlag = True,
    monitor_window: Annotated[
        str, typer.Option("--monitor-window", help="Monitoring window: 15m, 1h, 1d…")
    ] = "1h",
    monitor_interval: Annotated[
        float, typer.Option("--monitor-interval", help="Seconds between monitoring runs.", min=0.5)
    ] = 60.0,
    alerts: AlertsFlag = True,
    scheduler: Annotated[
        bool,
        typer.Option("--scheduler", help="Also run the schedules ('shipyard scheduler') beside the server."),
    ] = False,
    rollouts: RolloutsFlag = True,
    rollout_interval: RolloutIntervalOption = 5.0,
    retrain: RetrainFlag = True,
    retrain_interval: RetrainIntervalOption = 60.0,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
) -> None:
    """Serve models over HTTP: shipyard JSON, MLflow /invocations and the Open Inference Protocol (/v2)."""
    _before_the_checks(engine, workers)
    from shipyard.config import load_settings
    from shipyard.server import ServeOptions, plan_server, run_server

    options = ServeOptions(
        host=host,
        port=port,
        workers=workers,
        token=token,
        token_file=token_file,
        max_body_mb=max_body_mb,
        timeout=timeout,
        max_batch_rows=max_batch_rows,
        max_queue_rows=max_queue_rows,
        trust=trust,
        log_predictions=log_predictions,
        monitor=monitor,
        monitor_window=monitor_window,
        monitor_interval=monitor_interval,
        alerts=alerts,
        scheduler=scheduler,
        rollouts=rollouts,
        rollout_interval=rollout_interval,
        retrain=retrain,
        retrain_interval=retrain_interval,
        log_level=log_level,
        engine=engine,  # ServeOptions refuses anything else, naming the choices
    )
    plan = plan_server(references, options, settings=load_settings(state.home))
    for line in plan.describe():
        render.message("{}", line)
    run_server(plan)


def _before_the_checks(engine: str, workers: int) -> None:
    """A workspace at hand, and for several local workers their fork server, started before the server's
    checks are even imported: it imports what the workers need while the supervisor resolves the
    references (``server/fork_server.py``)."""
    require_workspace()
    from shipyard.server.fork_server import start_fork_server

    start_fork_server(engine, workers)
