"""Rollout measurements for bench/serving.py: switching a running ``shipyard serve`` between no rollout, a
50% canary and a shadow rollout through the Python API, and timing how long an abort takes to reach every
worker.

A worker of ``shipyard serve`` is not named in its answers, so this module talks to each worker on purpose:
it opens keep-alive connections to the server and asks the operating system (psutil) which worker process
holds the other end of each, until every worker has two. ``/health/ready`` on a worker's own connection
says which rollout that worker routes by; the ``X-Shipyard-Arm`` header of a prediction says which arm
answered it.
"""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psutil

from shipyard import Registry, rollouts

#: The rollouts measured: a canary holding half the live traffic for an hour (the controller never moves
#: it during a run), and a shadow rollout mirroring every request.
PLANS: dict[str, dict[str, Any]] = {
    "canary": {"strategy": "canary", "steps": [50, 100], "interval": "1h"},
    "shadow": {"strategy": "shadow", "interval": "1h"},
}
MODES = ("none", "canary", "shadow")
CONNECTIONS_PER_WORKER = 2
#: After an abort, how long the pollers keep going (at least), and how long after the last canary answer.
OBSERVE_SECONDS = 2.0
QUIET_SECONDS = 1.0


@dataclass
class Answer:
    worker: int
    sent: float
    received: float
    status: int
    arm: str


@dataclass
class WorkerConnections:
    """Keep-alive connections to a running server, each known to reach one worker process."""

    port: int
    workers: dict[int, list[http.client.HTTPConnection]] = field(default_factory=dict)

    @classmethod
    def open(cls, port: int, server_pid: int, workers: int, *, attempts: int = 60) -> WorkerConnections:
        """Open connections until each of ``workers`` worker processes holds ``CONNECTIONS_PER_WORKER``."""
        opened = cls(port)
        for _ in range(attempts):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", "/health/live")
            connection.getresponse().read()
            pid = _worker_holding(connection, port, server_pid)
            held = opened.workers.setdefault(pid, []) if pid is not None else None
            if held is None or len(held) >= CONNECTIONS_PER_WORKER:
                connection.close()
            else:
                held.append(connection)
            if len(opened.workers) == workers and all(
                len(held) == CONNECTIONS_PER_WORKER for held in opened.workers.values()
            ):
                return opened
        opened.close()
        raise RuntimeError(f"could not reach each of the server's {workers} workers over its own connection")

    def pairs(self) -> list[tuple[int, http.client.HTTPConnection]]:
        return [(pid, connection) for pid, held in self.workers.items() for connection in held]

    def routing(self, model: str) -> dict[int, Any]:
        """Each worker's rollout for ``model`` as its /health/ready says (None: no rollout)."""
        routes = {}
        for pid, held in self.workers.items():
            held[0].request("GET", "/health/ready")
            routes[pid] = json.loads(held[0].getresponse().read())["models"][model]["rollout"]
        return routes

    def close(self) -> None:
        for _, connection in self.pairs():
            connection.close()


def _worker_holding(connection: http.client.HTTPConnection, port: int, server_pid: int) -> int | None:
    """The pid of the server's process holding the far end of ``connection``."""
    assert connection.sock is not None
    local_port = connection.sock.getsockname()[1]
    for process in psutil.Process(server_pid).children(recursive=True):
        try:
            sockets = process.net_connections(kind="tcp")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        for held in sockets:
            if held.laddr and held.laddr.port == port and held.raddr and held.raddr.port == local_port:
                return int(process.pid)
    return None


def set_mode(registry: Registry, model: str, candidate: int, mode: str) -> int | None:
    """End any rollout on ``model@production``, then start ``mode``'s (none: no rollout); its id."""
    if rollouts.status(registry, model):
        rollouts.abort(registry, model, reason="benchmark: next scenario")
    if mode == "none":
        return None
    started = rollouts.start(
        registry, {"model": model, "to": candidate, **PLANS[mode]}, reason="serving benchmark"
    )
    return started.id


def wait_for_routing(
    port: int, server_pid: int, workers: int, model: str, rollout_id: int | None, within: float = 60.0
) -> None:
    """Wait until every worker routes ``model`` by rollout ``rollout_id`` (None: by no rollout)."""
    deadline = time.monotonic() + within
    routes: dict[int, Any] = {}
    while time.monotonic() < deadline:
        connections = WorkerConnections.open(port, server_pid, workers)
        try:
            routes = connections.routing(model)
        finally:
            connections.close()
        if all((route or {}).get("rollout_id") == rollout_id for route in routes.values()):
            return
        time.sleep(0.1)
    raise RuntimeError(f"the workers did not follow rollout {rollout_id} within {within:.0f} s: {routes}")


class Pollers:
    """One thread per connection, each sending the same prediction request without pause."""

    def __init__(self, connections: WorkerConnections, path: str, body: bytes) -> None:
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._poll, args=(pid, connection, path, body), daemon=True)
            for pid, connection in connections.pairs()
        ]
        for thread in self._threads:
            thread.start()

    def _poll(self, pid: int, connection: http.client.HTTPConnection, path: str, body: bytes) -> None:
        headers = {"Content-Type": "application/json"}
        while not self._stop.is_set():
            sent = time.perf_counter()
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status, arm = response.status, response.getheader("X-Shipyard-Arm", "")
            except (OSError, http.client.HTTPException) as error:
                status, arm = 0, type(error).__name__
                connection.close()  # reconnects on the next request (perhaps to another worker)
            self.answers.append(Answer(pid, sent, time.perf_counter(), status, arm))

    def arms_since(self, since: float) -> dict[int, set[str]]:
        seen: dict[int, set[str]] = {}
        for answer in list(self.answers):
            if answer.sent >= since:
                seen.setdefault(answer.worker, set()).add(answer.arm)
        return seen

    def stop(self) -> list[Answer]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        return self.answers


@dataclass(frozen=True)
class AbortTrial:
    seconds: float  # abort returned → the last canary answer received (0 when none came after it)
    requests: int
    failed: int


def abort_trial(
    registry: Registry,
    model: str,
    candidate: int,
    port: int,
    server_pid: int,
    workers: int,
    path: str,
    body: bytes,
) -> AbortTrial:
    """Start a 50% canary, wait until each worker answers with both arms, abort, and time how long after
    ``rollouts.abort`` returned the last ``canary`` answer arrived, with every worker polled throughout."""
    set_mode(registry, model, candidate, "canary")
    connections = WorkerConnections.open(port, server_pid, workers)
    pollers = Pollers(connections, path, body)
    try:
        began, deadline = time.perf_counter(), time.monotonic() + 60
        while pollers.arms_since(began) != {pid: {"stable", "canary"} for pid in connections.workers}:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the canary did not reach every worker: {pollers.arms_since(began)}")
            time.sleep(0.02)
        rollouts.abort(registry, model, reason="benchmark: abort latency")
        aborted = time.perf_counter()
        while True:
            time.sleep(0.05)
            now = time.perf_counter()
            canaries = [a.received for a in list(pollers.answers) if a.arm == "canary"]
            last = max(canaries, default=aborted)
            if now - aborted >= OBSERVE_SECONDS and now - last >= QUIET_SECONDS:
                break
    finally:
        answers = pollers.stop()
        connections.close()
    last_canary = max((a.received for a in answers if a.arm == "canary"), default=aborted)
    return AbortTrial(
        seconds=max(0.0, last_canary - aborted),
        requests=len(answers),
        failed=sum(1 for answer in answers if answer.status != 200),
    )


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0…1) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(share * len(ordered) + 0.999999) - 1))]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def shadow_copies(metrics_text: str) -> dict[str, float]:
    """``shipyard_shadow_requests_total`` summed per outcome (answered, failed, dropped) from /metrics."""
    totals: dict[str, float] = {}
    for line in metrics_text.splitlines():
        if not line.startswith("shipyard_shadow_requests_total{"):
            continue
        labels, _, value = line.rpartition(" ")
        outcome = labels.split('outcome="', 1)[1].split('"', 1)[0] if 'outcome="' in labels else "?"
        totals[outcome] = totals.get(outcome, 0.0) + float(value)
    return totals


def batch_totals(metrics_text: str) -> dict[str, float]:
    """From /metrics: predict calls (``calls``), requests in them (``batched``), requests answered
    (``requests``), summed over the server's workers and models."""
    names = {
        "shipyard_batch_requests_count": "calls",
        "shipyard_batch_requests_sum": "batched",
        "shipyard_request_seconds_count": "requests",
    }
    totals = dict.fromkeys(names.values(), 0.0)
    for line in metrics_text.splitlines():
        name = line.split("{", 1)[0]
        if name in names:
            totals[names[name]] += float(line.rpartition(" ")[2])
    return totals
