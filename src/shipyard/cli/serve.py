"""``shipyard serve``: start the inference server (uvicorn) for one or more models."""

from __future__ import annotations

import os
import tempfile
from typing import Annotated

import typer

from shipyard.cli import render
from shipyard.cli.common import open_registry


def serve_command(
    references: Annotated[list[str], typer.Argument(help="Models to serve: fraud@production churn/3 …")],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)] = 8080,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes.", min=1, max=64)] = 1,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="SHIPYARD_API_TOKEN", help="Require 'Authorization: Bearer TOKEN'."),
    ] = None,
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
    monitor: Annotated[
        bool,
        typer.Option(
            "--monitor/--no-monitor", help="Run the monitoring runner beside the server (needs the log)."
        ),
    ] = True,
    monitor_window: Annotated[
        str, typer.Option("--monitor-window", help="Monitoring window: 15m, 1h, 1d…")
    ] = "1h",
    monitor_interval: Annotated[
        float, typer.Option("--monitor-interval", help="Seconds between monitoring runs.", min=0.5)
    ] = 60.0,
    alerts: Annotated[
        bool,
        typer.Option(
            "--alerts/--no-alerts",
            help="Evaluate the alert rules after each monitoring run (needs monitors).",
        ),
    ] = True,
    scheduler: Annotated[
        bool,
        typer.Option("--scheduler", help="Also run the schedules ('shipyard scheduler') beside the server."),
    ] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
) -> None:
    """Serve models over HTTP: shipyard JSON, MLflow /invocations and the Open Inference Protocol (/v2)."""
    import uvicorn

    from shipyard.monitoring.series import parse_window
    from shipyard.serving.config import ENV_VARIABLE, ServeConfig

    window = parse_window(monitor_window)
    with open_registry() as registry:  # fail now, with a clear message, on a reference that does not resolve
        versions = [registry.resolve(reference) for reference in references]
        settings = registry.settings
        alerting = None
        if alerts and monitor and log_predictions:  # a rule naming a figure or model that is not: fail now
            from shipyard.alerts import load_alerts

            alerting = load_alerts(settings, registry, list(references), window=window)
    config = ServeConfig(
        references=list(references),
        home=str(settings.home),
        registry_url=settings.registry_url,
        artifacts_url=settings.artifacts_url,
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        max_batch_rows=max_batch_rows,
        max_queue_rows=max_queue_rows,
        request_timeout=timeout,
        api_token=token,
        trust=trust,
        log_predictions=log_predictions,
        monitor_window_seconds=int(window.total_seconds()),
    )
    os.environ[ENV_VARIABLE] = config.to_environment()
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Before any worker imports prometheus_client: every worker writes its counts to this folder.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="shipyard-metrics-")
    # One BLAS/OpenMP thread per worker: requests are many and small; threads would fight over the cores.
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    served = ", ".join(
        f"{reference} (now {version.ref})" for reference, version in zip(references, versions, strict=True)
    )
    render.message("serving {} on http://{}:{} with {} worker(s)", served, host, port, workers)
    if monitor and log_predictions:
        from shipyard.monitoring.runner import RunnerConfig, start_runner_process

        runner = RunnerConfig(
            list(references), int(window.total_seconds()), monitor_interval, alerts=alerting is not None
        )
        start_runner_process(settings, runner)  # a daemon: it ends with this process
        render.message("monitoring every {} s in {} windows", f"{monitor_interval:g}", monitor_window)
        if alerting is not None:
            channels = sorted({name for rule in alerting.rules for name in rule.channels})
            render.message(
                "alerting with {} rule(s) through {}",
                len(alerting.rules),
                ", ".join(channels) or "no channel",
            )
    if scheduler:
        from shipyard.scheduling import start_scheduler_process

        start_scheduler_process(settings)  # a daemon: it stops with this process
        render.message("running the schedules beside the server")
    uvicorn.run(
        "shipyard.serving.app:build_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        timeout_graceful_shutdown=30,
        timeout_keep_alive=5,
        access_log=False,
    )
