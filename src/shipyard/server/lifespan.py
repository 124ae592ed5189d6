"""A worker's life: load and warm the models, start the prediction log and the background loops, and at
shutdown drain every queued request and write every buffered prediction before the process exits."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import signal
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette

from shipyard._collector import collect_as_before
from shipyard.predictions import LogWriter
from shipyard.server import metrics
from shipyard.server.access_log import access_log
from shipyard.server.state import ServerState
from shipyard.serving.engine import Engine
from shipyard.serving.prediction_log import NullSink
from shipyard.serving.usage import sample_usage_forever

log = logging.getLogger("shipyard.serving")


def lifespan_of(
    server: ServerState, *, own_log: bool
) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    """The app's lifespan; ``own_log``: this worker writes its own prediction log (made in the worker
    process whose predictions it writes, never in the parent that imported the app)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await server.engine.refresh()
        _report_loaded(server.engine)
        _freeze_what_lives_forever()
        writer = _start_log_writer(server) if own_log else None
        tasks = [
            asyncio.create_task(_follow_aliases(server)),
            asyncio.create_task(_follow_rollouts(server)),
            asyncio.create_task(_stop_when_orphaned()),
        ]
        if writer is not None:
            tasks.append(
                asyncio.create_task(
                    sample_usage_forever(
                        lambda: server.recorder.sink,
                        server.served_versions,
                        server.settings.log_usage_seconds,
                    )
                )
            )
        try:
            yield
        finally:
            await _shut_down(server, tasks, writer)

    return lifespan


def _freeze_what_lives_forever() -> None:
    """Everything alive now (libraries, models) lives as long as the server: moved out of the collector's
    reach, a full collection no longer walks it and stalls every request in the worker for ~200 ms (it made
    the slowest 2% of requests 6× slower than the rest under load). Garbage is collected first so none is
    kept; then the collector goes back to its usual pace (a worker starts collecting rarely: ``workers.py``).
    """
    gc.collect()
    gc.freeze()
    collect_as_before()


def _start_log_writer(server: ServerState) -> LogWriter:
    settings = server.settings
    writer = LogWriter(
        settings.log_url,
        flush_seconds=settings.log_flush_seconds,
        sample_rate=settings.log_sample_rate,
        on_written=metrics.record_log_flush,
        on_dropped=metrics.record_log_drop,
    )
    server.recorder.sink = writer
    return writer


async def _follow_aliases(server: ServerState) -> None:
    """Hot swap: every ``refresh_seconds``, follow each served reference to the version it names now."""
    while True:
        await asyncio.sleep(server.config.refresh_seconds)
        try:
            await server.engine.refresh()
            _report_served(server.engine)
        except Exception:  # the loop must survive a database hiccup; the next tick retries
            log.exception("refreshing the served versions failed")


async def _follow_rollouts(server: ServerState) -> None:
    """Every ``rollout_refresh_seconds``, route each model by its alias's rollout as the database says now
    (a step taken, a pause, an abort); loading a new candidate happens here too, off the request path."""
    while True:
        await asyncio.sleep(server.config.rollout_refresh_seconds)
        try:
            await server.engine.follow_splits()
        except Exception:  # as for aliases: a database hiccup must not end the loop
            log.exception("following the rollouts failed")


async def _stop_when_orphaned() -> None:
    """A worker whose supervisor was killed (SIGKILL, OOM) shuts itself down, draining and writing its log,
    instead of serving on, unsupervised, from the listening socket it inherited. A server run as one process
    has no supervisor and outlives its shell as it should."""
    parent = multiprocessing.parent_process()  # the supervisor, even for a worker the fork server forked
    if parent is None:
        return
    while parent.is_alive():
        await asyncio.sleep(1.0)
    log.warning("the server's supervisor (pid %s) is gone; this worker shuts down", parent.pid)
    os.kill(os.getpid(), signal.SIGTERM)


def _report_loaded(engine: Engine) -> None:
    for name, served in engine.models.items():
        if served.current is not None:
            version = served.current.version.version
            metrics.LOAD_SECONDS.labels(name, str(version), "stable").set(served.current.loaded_seconds)
    _report_served(engine)


def _report_served(engine: Engine) -> None:
    for name, served in engine.models.items():
        if served.current is not None:
            metrics.SERVED_VERSION.labels(name).set(served.current.version.version)
        candidate, arm = served.candidate, served.candidate_arm
        if candidate is not None and arm is not None:  # a rollout's candidate: how long it took to be ready
            labels = (name, str(candidate.version.version), arm)
            metrics.LOAD_SECONDS.labels(*labels).set(candidate.loaded_seconds)


async def _shut_down(server: ServerState, tasks: list[asyncio.Task[Any]], writer: LogWriter | None) -> None:
    server.draining = True
    for task in tasks:
        task.cancel()
    await server.engine.close()  # queued and running batches finish before the process exits
    if writer is not None:
        server.recorder.sink = NullSink()
        await asyncio.to_thread(writer.close)  # a clean shutdown writes every buffered prediction
    server.registry.close()
    for handler in access_log.handlers:  # worker processes exit without running atexit hooks
        handler.flush()
