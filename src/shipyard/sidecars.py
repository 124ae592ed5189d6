"""Sidecars: daemon processes that run beside a server (the monitoring runner, the scheduler) and end
when it ends.

Each is spawned as a daemon and told its parent's pid: a server that exits normally takes its daemons
with it, and one killed with SIGKILL cannot, so the sidecar watches for its parent to disappear.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from shipyard.errors import ShipyardError


def start_sidecar(target: Callable[..., None], *args: Any, name: str) -> BaseProcess:
    """Run ``target(*args, parent_pid)`` in a spawned daemon process named ``name``."""
    process = multiprocessing.get_context("spawn").Process(
        target=_run_sidecar, args=(target, *args, os.getpid()), name=name, daemon=True
    )
    process.start()
    return process


class Runner(Protocol):
    """A sidecar's work: built from the workspace's settings and its config, then ``run`` until told to stop
    or until ``parent`` is gone."""

    def __init__(self, settings: Any, config: Any) -> None: ...

    def run(self, stop: threading.Event | None = None, *, parent: int | None = None) -> None: ...


def start_runner(runner: type[Runner], settings: Any, config: Any, *, name: str) -> BaseProcess:
    """``runner(settings, config).run(...)`` in a daemon process of its own, ending with this process."""
    return start_sidecar(_run_runner, runner, settings, config, name=name)


def _run_runner(runner: type[Runner], settings: Any, config: Any, parent: int) -> None:
    runner(settings, config).run(parent=parent)


def parent_gone(parent: int | None) -> bool:
    """True once the process that started this one has exited (this one was re-parented)."""
    return parent is not None and os.getppid() != parent


def _run_sidecar(target: Callable[..., None], *args: Any) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    target(*args)


def run_every(
    work: Callable[[], object],
    interval_seconds: float,
    stop: threading.Event,
    *,
    parent: int | None,
    name: str,
) -> None:
    """Call ``work`` every ``interval_seconds`` until ``stop`` is set or the process ``parent`` is gone (a
    server killed with SIGKILL cannot stop its sidecar: the sidecar notices it was orphaned). A failing call
    is logged (a shipyard error in one line, anything else with its traceback) and the next one tries again:
    a database or disk hiccup must not end a sidecar."""
    log = logging.getLogger(f"shipyard.{name}")
    while not stop.is_set() and not parent_gone(parent):
        started = time.monotonic()
        try:
            work()
        except ShipyardError as error:  # a known failure (the database away) says what it is in one line
            log.warning("the %s pass failed: %s; retrying in %.0f s", name, error, interval_seconds)
        except Exception:
            log.exception("the %s pass failed; retrying in %.0f s", name, interval_seconds)
        next_pass = started + interval_seconds
        while not stop.is_set() and time.monotonic() < next_pass:
            if parent_gone(parent):
                log.info("the server that started the %s runner is gone; stopping", name)
                return
            stop.wait(min(1.0, max(0.0, next_pass - time.monotonic())))
