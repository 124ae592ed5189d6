"""Sidecars: daemon processes that run beside a server (the monitoring runner, the scheduler) and end
when it ends.

Each is spawned as a daemon and told its parent's pid: a server that exits normally takes its daemons
with it, and one killed with SIGKILL cannot, so the sidecar watches for its parent to disappear.

A server runs its light runners together in one *companion* process, a thread each: every Python process
costs its interpreter and imports (about 150 MiB with pandas and pyarrow), and the runners spend most of
their life asleep. The companion names its runners by import path, so the server that starts it imports
none of what they run, and it imports them only once the server answers, so it takes no CPU from the
workers while they start.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import pickle
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from shipyard.errors import ShipyardError

log = logging.getLogger("shipyard.sidecars")

#: How long a companion waits for its server to answer before it starts its runners anyway.
READY_WAIT_SECONDS = 120.0


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


@dataclass(frozen=True)
class RunnerSpec:
    """One runner of a companion: its class and its config's class as ``"module:Name"``, and the config's
    keyword arguments (plain values, so that pickling the spec imports nothing)."""

    runner: str
    config: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def build(self, settings: Any) -> Runner:
        config = _resolve(self.config)(**self.options)
        runner: Runner = _resolve(self.runner)(settings, config)
        return runner


def start_companion(
    settings: Any,
    specs: Sequence[RunnerSpec],
    *,
    ready_url: str | None = None,
    name: str = "shipyard-runners",
) -> BaseProcess:
    """Run every runner of ``specs`` in one daemon process, a thread each, once ``ready_url`` answers.

    ``settings`` travel as pickled bytes, unpickled once the server answers: unpickling them imports the
    configuration's modules (pydantic: 0.15 s of CPU), which would be taken from the workers while they start.
    """
    packed = pickle.dumps(settings)
    return start_sidecar(_run_companion, packed, list(specs), ready_url, name=name)


def _run_companion(packed: bytes, specs: list[RunnerSpec], ready_url: str | None, parent: int) -> None:
    if ready_url is not None and not wait_until_answering(ready_url, parent):
        return
    settings = pickle.loads(packed)  # shipyard's own bytes, from the process that started this one
    stop = threading.Event()
    threads = []
    for spec in specs:
        runner = spec.build(settings)
        thread = threading.Thread(
            target=runner.run, args=(stop,), kwargs={"parent": parent}, name=spec.runner, daemon=True
        )
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()


def wait_until_answering(url: str, parent: int | None, timeout: float = READY_WAIT_SECONDS) -> bool:
    """Wait until ``url`` answers 200; False if the parent went away first. After ``timeout`` (a model that
    cannot be served keeps readiness at 503) it gives up waiting and says so: the runners are still due."""
    deadline = time.monotonic() + timeout
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the server is local: no proxy
    while time.monotonic() < deadline:
        if parent_gone(parent):
            return False
        try:
            with direct.open(url, timeout=1.0) as answer:
                if answer.status == 200:
                    return True
        except (OSError, urllib.error.URLError):
            pass  # not listening yet, or not ready (an HTTPError is a URLError)
        time.sleep(0.2)
    log.warning("%s did not answer 200 within %.0f s; starting the runners anyway", url, timeout)
    return True


def _resolve(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


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
