"""``shipyard.serve``: the process layout of a server, the same from Python and from ``shipyard serve``.

A server is uvicorn with ``workers`` processes, each importing ``create_app``, reading its ``ServeConfig``
from the environment and listening on a socket of its own (``workers.py``), plus, beside them, one companion
process (``sidecars.start_companion``) running the monitoring runner (it evaluates the alert rules after
each run), the rollout runner (the controller that advances rollouts) and optionally the scheduler.
Everything that can be wrong is checked before any process starts: a reference that does not resolve, an
alert rule naming a figure that does not exist.
With ``engine="ray"`` the workers are the replicas of a Ray Serve deployment instead, each given its
``ServeConfig`` with the deployment (``shipyard.server.ray_serve``); what runs beside them is the same.

The bearer token comes from ``token_file`` (or ``token``, or ``$SHIPYARD_SERVE_TOKEN``) and reaches the
workers as a private file (mode 0600, in a folder only this user can open) that the server removes when it
stops: never through a command line (``ps`` shows it to every user) or the workers' environment.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shipyard.alerts import AlertsConfig, load_alerts
from shipyard.config import Settings, load_settings
from shipyard.errors import InvalidInput
from shipyard.monitoring.series import parse_window
from shipyard.registry import ModelVersion, Registry
from shipyard.retraining import load_policies
from shipyard.server.config import ENV_VARIABLE, TOKEN_VARIABLES, ServeConfig, read_token_file
from shipyard.server.fork_server import forks_workers, share_metrics_folder, start_fork_server
from shipyard.sidecars import RunnerSpec, start_companion
from shipyard.threads import one_native_thread_per_process

log = logging.getLogger("shipyard.serving")

#: What every worker process imports and calls to build its app.
APP = "shipyard.server.app:create_app"
#: What runs the app: uvicorn's worker processes here, or replicas of a Ray Serve deployment.
ENGINES = ("local", "ray")


@dataclass(frozen=True)
class ServeOptions:
    """How to serve: where to listen, how many workers, the limits, and what runs beside the server."""

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    #: Require ``Authorization: Bearer <token>`` on every route but the probes, metrics, version and OpenAPI.
    #: Prefer ``token_file``: a token on a command line (``--token``) is visible to other users in ``ps``.
    token: str | None = field(default=None, repr=False)
    #: A file holding the token (read once at start); else ``token``, else ``$SHIPYARD_SERVE_TOKEN``.
    token_file: str | os.PathLike[str] | None = None
    max_body_mb: float = 10.0
    #: Seconds a request may wait for its batch before it gets 504.
    timeout: float = 10.0
    max_batch_rows: int = 512
    #: Queued rows before the server answers 503.
    max_queue_rows: int = 20_000
    #: Allow model formats that can run code on load.
    trust: bool = False
    log_predictions: bool = True
    #: Run the monitoring runner beside the server (it needs the prediction log).
    monitor: bool = True
    monitor_window: str = "1h"
    monitor_interval: float = 60.0
    #: Evaluate the alert rules after each monitoring run (needs the monitors).
    alerts: bool = True
    #: Also run the schedules beside the server.
    scheduler: bool = False
    #: Run the rollout controller beside the server: it advances, promotes and aborts rollouts.
    rollouts: bool = True
    #: Seconds between two passes of the rollout controller.
    rollout_interval: float = 5.0
    #: Watch the retraining triggers beside the server, when the workspace declares [retraining.<model>].
    retrain: bool = True
    #: Seconds between two looks at the retraining triggers.
    retrain_interval: float = 60.0
    log_level: str = "info"
    #: ``local``: ``workers`` uvicorn processes here; ``ray``: ``workers`` Ray Serve replicas on the
    #: ``ray_address`` cluster (else a local Ray), behind Ray's proxy on ``host:port``.
    engine: str = "local"

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            choices = " or ".join(repr(engine) for engine in ENGINES)
            raise InvalidInput(f"cannot serve with the engine {self.engine!r}; choose {choices}")


@dataclass(frozen=True)
class ServerPlan:
    """A server ready to start: what each reference resolves to now, and what will run beside it."""

    references: list[str]
    versions: list[ModelVersion]
    options: ServeOptions
    settings: Settings
    config: ServeConfig
    window: timedelta
    alerting: AlertsConfig | None
    #: The models whose retraining triggers are watched beside the server (their policies checked).
    retraining: tuple[str, ...] = ()

    def describe(self) -> list[str]:
        """What starting this plan does, one line each, for people."""
        served = ", ".join(
            f"{reference} (now {version.ref})"
            for reference, version in zip(self.references, self.versions, strict=True)
        )
        options = self.options
        address = f"http://{options.host}:{options.port}"
        processes = "Ray Serve replica(s)" if options.engine == "ray" else "worker(s)"
        lines = [f"serving {served} on {address} with {options.workers} {processes}"]
        if self.monitoring:
            lines.append(
                f"monitoring every {options.monitor_interval:g} s in {options.monitor_window} windows"
            )
        if self.alerting is not None:
            channels = sorted({name for rule in self.alerting.rules for name in rule.channels})
            rules = len(self.alerting.rules)
            lines.append(f"alerting with {rules} rule(s) through {', '.join(channels) or 'no channel'}")
        if options.rollouts:
            lines.append(f"advancing rollouts every {options.rollout_interval:g} s")
        if self.retraining:
            watched, every = ", ".join(self.retraining), f"{options.retrain_interval:g}"
            lines.append(f"watching the retraining triggers of {watched} every {every} s")
        if options.scheduler:
            lines.append("running the schedules beside the server")
        return lines

    @property
    def monitoring(self) -> bool:
        return self.options.monitor and self.options.log_predictions


def plan_server(
    references: Sequence[str], options: ServeOptions | None = None, *, settings: Settings | None = None
) -> ServerPlan:
    """Check everything a server needs before any process starts; raises the error a user must fix."""
    options = options or ServeOptions()
    if options.engine == "ray":
        from shipyard.server.ray_serve import require_ray_serve

        require_ray_serve()
    window = parse_window(options.monitor_window)
    references = list(references)
    with Registry(settings or load_settings()) as registry:
        versions = [registry.resolve(reference) for reference in references]
        settings = registry.settings
        alerting = None
        if options.alerts and options.monitor and options.log_predictions:
            alerting = load_alerts(settings, registry, references, window=window)
    config = ServeConfig(
        references=references,
        home=str(settings.home),
        registry_url=settings.registry_url,
        artifacts_url=settings.artifacts_url,
        max_body_bytes=int(options.max_body_mb * 1024 * 1024),
        max_batch_rows=options.max_batch_rows,
        max_queue_rows=options.max_queue_rows,
        request_timeout=options.timeout,
        api_token=_token_of(options),
        trust=options.trust,
        log_predictions=options.log_predictions,
        monitor_window_seconds=int(window.total_seconds()),
    )
    retraining = tuple(policy.model for policy in load_policies(settings)) if options.retrain else ()
    return ServerPlan(references, versions, options, settings, config, window, alerting, retraining)


def _token_of(options: ServeOptions) -> str | None:
    """The token the server requires: from ``token_file``, ``token`` or ``$SHIPYARD_SERVE_TOKEN``, or None."""
    if options.token_file is not None and options.token is not None:
        raise InvalidInput("give the server's token once: either --token-file or --token, not both")
    if options.token_file is not None:
        return read_token_file(options.token_file)
    if options.token is not None:
        return options.token
    return next((os.environ[name] for name in TOKEN_VARIABLES if os.environ.get(name)), None)


@contextmanager
def _private_token_file(token: str | None) -> Iterator[str | None]:
    """A file only this user can read, holding ``token``, for the workers; removed when the server stops."""
    if token is None:
        yield None
        return
    folder = tempfile.mkdtemp(prefix="shipyard-token-")  # mode 0700: nobody else can even list it
    path = Path(folder) / "token"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(token)
    try:
        yield str(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_server(plan: ServerPlan) -> None:
    """Start the processes of ``plan`` and serve until interrupted (SIGINT/SIGTERM drain gracefully)."""
    options = plan.options
    for name in TOKEN_VARIABLES:  # the workers and sidecars inherit this environment: the token stays out
        os.environ.pop(name, None)
    with _private_token_file(plan.config.api_token) as token_file:
        worker_config = replace(plan.config, api_token=None, api_token_file=token_file)
        os.environ[ENV_VARIABLE] = worker_config.to_environment()
        if forks_workers(options.engine, options.workers):
            share_metrics_folder()  # before any worker imports prometheus_client
        one_native_thread_per_process()  # requests are many and small: threads would fight over the cores
        _start_sidecars(plan)
        if options.engine == "ray":
            _serve_on_ray(plan)
            return
        _run_workers(options)


def _run_workers(options: ServeOptions) -> None:
    """uvicorn with ``options.workers`` processes; several get a listening socket each (``workers.py``)."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE

    config = uvicorn.Config(
        APP,
        factory=True,
        host=options.host,
        port=options.port,
        workers=options.workers,
        log_level=options.log_level,
        timeout_graceful_shutdown=30,
        # A worker busy decoding a large body answers the supervisor's ping late; it is not hung.
        timeout_worker_healthcheck=30,
        timeout_keep_alive=5,
        access_log=False,
        ws="none",  # no route speaks WebSocket: the workers need not import a WebSocket library
    )
    if options.workers == 1:
        server = uvicorn.Server(config)
        server.run()
        if not server.started:
            sys.exit(STARTUP_FAILURE)
        return
    from shipyard.server.workers import SlottedWorkers, listening_sockets

    slots = listening_sockets(options.host, options.port, options.workers)
    with suppress(KeyboardInterrupt):  # the supervisor handles SIGINT itself; this is only belt and braces
        SlottedWorkers(config, slots).run()


def _serve_on_ray(plan: ServerPlan) -> None:
    """The replicas on Ray, each given the configuration with its token (Ray's controller keeps it; whoever
    can reach the cluster can run code on it anyway): a private file here is no file on another node."""
    from shipyard.server.ray_serve import serve_on_ray

    options = plan.options
    serve_on_ray(
        plan.config,
        host=options.host,
        port=options.port,
        replicas=options.workers,
        address=plan.settings.ray_address,
    )


def _start_sidecars(plan: ServerPlan) -> None:
    """What runs beside the workers, as daemons that end with this process: the monitoring and rollout
    runners and the scheduler together in one companion process (started once the workers answer), and
    the retraining runner in its own, since a retraining run trains there."""
    options = plan.options
    runners = []
    if plan.monitoring:
        monitoring = {
            "references": plan.references,
            "window_seconds": int(plan.window.total_seconds()),
            "interval_seconds": options.monitor_interval,
            "alerts": plan.alerting is not None,
        }
        runners.append(
            RunnerSpec(
                "shipyard.monitor_runner:MonitorRunner", "shipyard.monitor_runner:RunnerConfig", monitoring
            )
        )
    if options.rollouts:
        runners.append(
            RunnerSpec(
                "shipyard.rollout_runner:RolloutRunner",
                "shipyard.rollout_runner:RolloutRunnerConfig",
                {"interval_seconds": options.rollout_interval},
            )
        )
    if options.scheduler:
        runners.append(
            RunnerSpec(
                "shipyard.scheduling.scheduler:SchedulerRunner",
                "shipyard.scheduling.scheduler:SchedulerConfig",
            )
        )
    if runners:
        start_companion(plan.settings, runners, ready_url=_ready_url(options))
    if plan.retraining:
        watching = {"interval_seconds": options.retrain_interval, "since": datetime.now(UTC)}
        retraining = RunnerSpec(
            "shipyard.retrain_runner:RetrainRunner", "shipyard.retrain_runner:RetrainRunnerConfig", watching
        )
        start_companion(
            plan.settings, [retraining], ready_url=_ready_url(options), name="shipyard-retraining"
        )


def _ready_url(options: ServeOptions) -> str:
    """Where this host reaches the server's readiness probe (a wildcard address listens on loopback too)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(options.host, options.host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{options.port}/health/ready"


def serve(
    references: Sequence[str],
    options: ServeOptions | None = None,
    *,
    settings: Settings | None = None,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve ``references`` (``["fraud@production", "churn/3"]``) over HTTP until interrupted.

    ``shipyard serve`` is this function: the same checks, processes and defaults. ``announce`` receives
    one line per thing started (default: the ``shipyard.serving`` logger).
    """
    chosen = options or ServeOptions()
    start_fork_server(chosen.engine, chosen.workers)  # it imports the workers' modules during the checks
    plan = plan_server(references, options, settings=settings)
    for line in plan.describe():
        (announce or log.info)(line)
    run_server(plan)
