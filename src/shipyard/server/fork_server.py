"""The fork server the workers of ``shipyard serve`` start from: the server's modules imported once, early.

A worker spawned as a fresh interpreter imports the whole server (uvicorn, Starlette, pydantic, pandas,
pyarrow, SQLAlchemy, the registry: about 0.7 s of CPU) and scikit-learn with skops (0.7 s), and it can
start only once the supervisor has checked every reference and alert rule (0.6 s). Instead, as soon as
the command line has its options, a fork server is started beside the supervisor: it imports all that
once, while the supervisor runs its checks, and then forks each worker, which loads its models (and
imports their library first if it is another one: PyTorch, ONNX Runtime…). The fork server is
multiprocessing's own (``forkserver``): a clean process with no threads and no open database connection,
so forking it is safe, and every worker shares its imported modules' pages until it writes to them.

What the libraries read from the environment when they are imported (the native thread counts, the
metrics folder of a multi-worker server) is set before the fork server starts; the bearer token is kept
out of its environment. Each worker then takes the environment the supervisor had when it started it,
as a spawned worker would (``workers.WorkerProcess``).
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from multiprocessing import forkserver

from shipyard.server.config import TOKEN_VARIABLES
from shipyard.threads import one_native_thread_per_process

#: What the fork server imports before it forks any worker (``fork_server_preload`` imports the rest).
PRELOAD = ["shipyard.server.fork_server_preload"]
#: Where a multi-worker server's workers write their metrics (prometheus_client reads it at import).
METRICS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def worker_context() -> multiprocessing.context.ForkServerContext:
    """The context the workers start in: forked from the fork server, which starts on first use."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def forks_workers(engine: str, workers: int) -> bool:
    """Whether a server's workers start from the fork server: several uvicorn workers (a server of one runs
    it in its own process; Ray starts its replicas itself)."""
    return engine == "local" and workers > 1


def start_fork_server(engine: str, workers: int) -> None:
    """For a server that forks its workers, start the fork server now, with the environment the workers'
    libraries read at import and without the token, so it imports the server's modules while the supervisor
    checks the references."""
    if not forks_workers(engine, workers):
        return
    one_native_thread_per_process()
    share_metrics_folder()
    hidden = {name: os.environ.pop(name) for name in TOKEN_VARIABLES if name in os.environ}
    try:
        worker_context()
        forkserver.ensure_running()
    finally:
        os.environ.update(hidden)


def share_metrics_folder() -> None:
    """A folder every worker writes its metrics to (prometheus_client's multiprocess mode, chosen when it is
    imported), unless the environment names one already."""
    if METRICS_VARIABLE not in os.environ:
        os.environ[METRICS_VARIABLE] = tempfile.mkdtemp(prefix="shipyard-metrics-")
