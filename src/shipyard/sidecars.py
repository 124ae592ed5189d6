"""Sidecars: daemon processes that run beside a server (the monitoring runner, the scheduler) and end
when it ends.

Each is spawned as a daemon and told its parent's pid: a server that exits normally takes its daemons
with it, and one killed with SIGKILL cannot, so the sidecar watches for its parent to disappear.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any


def start_sidecar(target: Callable[..., None], *args: Any, name: str) -> BaseProcess:
    """Run ``target(*args, parent_pid)`` in a spawned daemon process named ``name``."""
    process = multiprocessing.get_context("spawn").Process(
        target=_run_sidecar, args=(target, *args, os.getpid()), name=name, daemon=True
    )
    process.start()
    return process


def parent_gone(parent: int | None) -> bool:
    """True once the process that started this one has exited (this one was re-parented)."""
    return parent is not None and os.getppid() != parent


def _run_sidecar(target: Callable[..., None], *args: Any) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    target(*args)
