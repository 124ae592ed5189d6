"""Real servers on 127.0.0.1: ``shipyard serve`` in a subprocess, with models trained by the fixtures."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import psutil
import pytest

from shipyard import Registry
from shipyard.gates import promote
from shipyard.training import train
from tests.models import transactions

FEATURES = ["amount", "channel", "hour"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    url: str
    home: Path
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0, **kwargs)  # type: ignore[arg-type]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(
    home: Path,
    references: list[str],
    *extra: str,
    workers: int = 2,
    environment: dict[str, str] | None = None,
    up_when: str = "/health/ready",
) -> Server:
    """``shipyard serve`` in a subprocess, returned once ``up_when`` answers 200 (``/health/live`` for a
    server that is up but not ready)."""
    port = free_port()
    log = home / f"server-{port}.log"
    environment = {**os.environ, **(environment or {}), "SHIPYARD_HOME": str(home)}
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-m", "shipyard", "serve", *references, "--port", str(port)]
    command += ["--workers", str(workers), *extra]
    with open(log, "wb") as output:
        process = subprocess.Popen(command, env=environment, stdout=output, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", home, process, log)
    deadline = time.monotonic() + 180  # generous: on 2 busy cores a 2-worker start has taken 80 s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited early:\n{server.log_text()}")
        try:
            if httpx.get(f"{server.url}{up_when}", timeout=1.0).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    _kill_with_workers(process)
    raise AssertionError(f"the server did not become ready:\n{server.log_text()}")


#: In the command line of the fork server a server's workers are forked from, and so in theirs.
FORK_SERVER = "multiprocessing.forkserver"


def worker_processes(server_pid: int) -> list[psutil.Process]:
    """A server's uvicorn workers, alive: the processes its fork server (its child) forked."""
    found = []
    for child in psutil.Process(server_pid).children(recursive=True):
        try:
            forked = FORK_SERVER in " ".join(child.cmdline()) and child.ppid() != server_pid
            if forked and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.Error:
            continue  # gone meanwhile
    return found


def _kill_with_workers(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the server and its workers: a killed parent alone leaves its workers running, orphaned."""
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        children = []
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
    process.kill()


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        _kill_with_workers(server.process)


def fraud_spec(**params: object) -> dict[str, object]:
    return {
        "model": "fraud",
        "seed": 3,
        "data": {"dataset": "tx", "target": "fraud", "features": FEATURES},
        "estimator": {"class": "sklearn.linear_model.LogisticRegression", "params": params},
        "cv": {"folds": 3},
    }


class Exploding:
    """A model that raises: the server must answer 500 with an error id, and keep serving."""

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        raise ValueError("the model exploded")


class Slow:
    """A model that takes 1 s per call: requests queued behind it outlive a short deadline."""

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        time.sleep(1.0)
        return np.zeros(len(data))


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("serving") / "ws"
    with Registry(home=home, actor="tests") as registry:
        registry.datasets.add("tx", transactions(rows=600))
        train(fraud_spec(), registry=registry, progress=False)
        promote(registry, "fraud/1", "production")
        registry.register("boom", Exploding())
        registry.register("slow", Slow())
    return home


@pytest.fixture(scope="session")
def server(workspace: Path) -> Iterator[Server]:
    running = start_server(workspace, ["fraud@production"])
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def guarded_server(workspace: Path) -> Iterator[Server]:
    """A second server: a bearer token, and the exploding model (a pickle: --trust)."""
    running = start_server(workspace, ["boom", "fraud/1"], "--token", "s3cret", "--trust", workers=1)
    yield running
    stop_server(running)
