"""A long monitoring range spread over worker processes, one per CPU.

Windows are independent of each other, and counting one is Python and NumPy work that holds the GIL, so a
range of many busy windows (a month of hourly windows for dozens of models) uses one core unless it is cut
up. ``monitor_range`` cuts it into chunks, a run of one version's windows holding at most a few hundred with
data, and this module hands the chunks to spawned processes. Each opens the workspace once, monitors its
chunks and stores their windows itself, as a single process would (the database takes concurrent writers),
and sends the results back; they are yielded in chunk order, so a caller sees what the single process
yields, and at most two chunks per process wait in memory.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import sys
import types
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shipyard._collector import collect_rarely
from shipyard.config import Settings
from shipyard.errors import Unavailable

if TYPE_CHECKING:
    from shipyard.monitoring.windows import WindowResult
    from shipyard.predictions import PredictionLog
    from shipyard.registry import ModelVersion, Registry
    from shipyard.stats.drift import DriftOptions

#: Monitors one version over ``[start, end)`` serially, storing and yielding each window
#: (``series.monitor_windows``).
Serial = Callable[..., Iterator["WindowResult"]]


@dataclass(frozen=True)
class Chunk:
    """A run of one version's windows: ``[start, end)``, both on window boundaries."""

    model: str
    version: int
    start: datetime
    end: datetime


def monitor_in_processes(
    settings: Settings,
    serial: Serial,
    chunks: list[Chunk],
    window: timedelta,
    options: DriftOptions | None,
    processes: int,
) -> Iterator[WindowResult]:
    """Every chunk's windows, monitored and stored by ``processes`` spawned workers, in chunk order."""
    context = multiprocessing.get_context("spawn")  # no fork of a process holding threads and connections
    executor = ProcessPoolExecutor(processes, context, initializer=_open, initargs=(settings,))
    waiting: deque[Future[list[WindowResult]]] = deque()
    pending = iter(chunks)

    def submit(chunk: Chunk) -> None:
        with _main_script_hidden():
            waiting.append(executor.submit(_monitor_chunk, serial, chunk, window, options))

    try:
        for chunk in itertools.islice(pending, 2 * processes):
            submit(chunk)
        while waiting:
            try:
                results = waiting.popleft().result()
            except BrokenProcessPool as error:
                raise Unavailable(
                    "a monitoring worker process died (out of memory, or killed); the windows stored before "
                    "it are kept: run the range again, or with processes=1 to stay in one process"
                ) from error
            following = next(pending, None)
            if following is not None:
                submit(following)
            yield from results
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _main_script_hidden() -> Iterator[None]:
    """While workers start: a spawned process imports the parent's ``__main__`` script again, so that
    functions defined there can be unpickled, which runs a script's unguarded top-level code a second time
    (and fails there). The workers run only shipyard's functions, so they are shown a bare ``__main__``."""
    script = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = script


#: What a worker process opened once: the workspace's registry and log, and the versions it resolved.
_workspace: dict[str, Any] = {}


def _open(settings: Settings) -> None:
    from shipyard.predictions import PredictionLog
    from shipyard.registry import Registry

    collect_rarely()
    registry = Registry(settings)
    _workspace.update(registry=registry, log=PredictionLog(settings.log_url), versions={})


def _monitor_chunk(
    serial: Serial, chunk: Chunk, window: timedelta, options: DriftOptions | None
) -> list[WindowResult]:
    registry: Registry = _workspace["registry"]
    log: PredictionLog = _workspace["log"]
    versions: dict[tuple[str, int], ModelVersion] = _workspace["versions"]
    key = (chunk.model, chunk.version)
    if key not in versions:
        versions[key] = registry.resolve(f"{chunk.model}/{chunk.version}")
    return list(serial(registry, log, versions[key], chunk.start, chunk.end, window, options))
