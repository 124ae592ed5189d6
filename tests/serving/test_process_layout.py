"""What ``shipyard serve --workers 2`` runs: the supervisor, the fork server and the two workers it forked,
and one companion process for the runners (plus multiprocessing's resource tracker), and what each has
loaded. The supervisor resolves and watches; it must not carry the data and learning libraries the workers
need (they cost it ~100 MiB). The fork server imports them once for both workers (the server's modules and
scikit-learn, the library of most models); each worker loads its own models."""

from __future__ import annotations

import http.client
import re
import time
from pathlib import Path
from urllib.parse import urlparse

import psutil

from tests.serving.conftest import FORK_SERVER, Server, worker_processes

#: Native libraries whose presence in a process's memory map means the Python package was imported.
HEAVY = ("pandas", "pyarrow", "numpy", "sklearn", "scipy")


def _loaded(process: psutil.Process) -> set[str]:
    """The site-packages distributions whose files ``process`` maps (its imported native extensions)."""
    text = Path(f"/proc/{process.pid}/maps").read_text(encoding="utf-8")
    return set(re.findall(r"site-packages/([A-Za-z0-9_]+)", text))


def _roles(server: Server, workers: int = 2) -> dict[str, list[psutil.Process]]:
    """The server's processes by role, once ``workers`` of them listen (ready means one worker answers:
    a worker's socket listens once that worker has loaded its models)."""
    deadline = time.monotonic() + 120
    roles = _processes(server)
    while len(roles["workers"]) < workers and time.monotonic() < deadline:
        time.sleep(0.2)
        roles = _processes(server)
    return roles


def _processes(server: Server) -> dict[str, list[psutil.Process]]:
    port = urlparse(server.url).port
    roles: dict[str, list[psutil.Process]] = {"fork servers": [], "tracker": [], "companions": []}
    for child in psutil.Process(server.process.pid).children():
        command = " ".join(child.cmdline())
        if FORK_SERVER in command:
            roles["fork servers"].append(child)
        elif "resource_tracker" in command:
            roles["tracker"].append(child)
        else:
            roles["companions"].append(child)
    roles["workers"] = [
        worker
        for worker in worker_processes(server.process.pid)
        if any(s.status == psutil.CONN_LISTEN and s.laddr.port == port for s in worker.net_connections("tcp"))
    ]
    return roles


def test_two_workers_forked_by_one_fork_server_and_one_companion_and_nothing_else(server: Server) -> None:
    roles = _roles(server)
    [fork_server] = roles["fork servers"]
    assert len(roles["workers"]) == 2
    assert {worker.ppid() for worker in roles["workers"]} == {fork_server.pid}
    assert len(roles["companions"]) == 1, [p.cmdline() for p in roles["companions"]]
    assert len(roles["tracker"]) <= 1


def test_the_supervisor_loads_no_data_or_learning_library_and_the_workers_do(server: Server) -> None:
    supervisor = psutil.Process(server.process.pid)
    assert not _loaded(supervisor) & set(HEAVY), sorted(_loaded(supervisor) & set(HEAVY))
    roles = _roles(server)
    for worker in roles["workers"]:
        assert {"pandas", "sklearn"} <= _loaded(worker)  # the check above would notice nothing otherwise
    [fork_server] = roles["fork servers"]
    assert {"pandas", "sklearn"} <= _loaded(fork_server)


def test_connections_opened_at_once_spread_over_both_workers(server: Server) -> None:
    """Each worker listens on a socket of its own: a burst of connections is spread by the kernel, not
    taken by whichever worker's event loop woke first (that split 64 connections 64/0 in one run)."""
    workers = _roles(server)["workers"]  # both listening before the burst
    address = urlparse(server.url)
    connections = [http.client.HTTPConnection(address.hostname, address.port, timeout=30) for _ in range(40)]
    try:
        for connection in connections:
            connection.request("GET", "/health/live")
        for connection in connections:
            assert connection.getresponse().read() is not None
        ports = {connection.sock.getsockname()[1] for connection in connections}
        held = [
            sum(1 for s in worker.net_connections("tcp") if s.raddr and s.raddr.port in ports)
            for worker in workers
        ]
    finally:
        for connection in connections:
            connection.close()
    assert sum(held) == 40
    assert min(held) >= 8, held  # binomial(40, 1/2) is below 8 about once in 200,000 runs
