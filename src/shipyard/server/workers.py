"""The worker processes of ``shipyard serve``, each listening on a socket of its own on the shared port.

uvicorn's supervisor hands every worker the same listening socket, and the workers race to accept from it:
an event loop that wakes first takes every connection waiting, so a burst of new connections (a client
pool opening, a load balancer reconnecting) can land on one worker while the other idles. Measured here,
64 connections opened at once split 64/0, 39/25 or 36/28 from run to run, and the p99 latency followed
the busier worker. Here each worker slot gets its own socket bound with ``SO_REUSEPORT`` to the same
address, and the kernel spreads new connections over the slots' sockets by a hash of the connection.

A worker's socket takes connections only once the worker listens on it, after it has loaded its models, so
none wait on a worker that is still starting. The supervisor closes its copy of a socket as soon as the
worker it was made for has started (the worker got its own descriptor at spawn), so a worker that dies takes
its socket with it and the kernel sends new connections to the workers alive at once; the replacement gets
a fresh socket. The number of workers is fixed (SIGTTIN/SIGTTOU are declined; restart with another
``--workers``); SIGHUP still replaces each worker in turn, the new one listening before the old one stops.
"""

from __future__ import annotations

import logging
import os
import socket
import sys

from uvicorn._subprocess import subprocess_started
from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from shipyard._collector import collect_rarely
from shipyard.server.fork_server import worker_context

log = logging.getLogger("uvicorn.error")


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets bound to ``host:port`` with ``SO_REUSEPORT`` (port 0: the first one's port)."""
    sockets: list[socket.socket] = []
    for _ in range(count):
        try:
            sockets.append(_bound(host, port))
        except OSError as error:
            for bound in sockets:
                bound.close()
            log.error("cannot listen on %s:%d: %s", host, port, error)
            sys.exit(STARTUP_FAILURE)
        port = sockets[0].getsockname()[1]
    return sockets


def _bound(host: str, port: int) -> socket.socket:
    sock = socket.socket(family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class WorkerProcess(Process):
    """uvicorn's worker process, forked from the fork server (``fork_server.py``) with the environment the
    supervisor has now, as a spawned worker would have it. It collects garbage rarely while it imports its
    libraries and loads its models (0.3 s of a start); the lifespan restores the usual pace once that heap
    is frozen."""

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets)
        self.environment = dict(os.environ)
        # uvicorn types this as the spawned kind; a forked one has the same interface.
        self.process = worker_context().Process(  # type: ignore[assignment]
            target=subprocess_started,
            kwargs={"config": config, "target": self.target, "sockets": sockets, "stdin_fileno": None},
        )

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # runs in the worker process
        os.environ.clear()
        os.environ.update(self.environment)
        collect_rarely()
        super().target(sockets)


class SlottedWorkers(Multiprocess):
    """uvicorn's supervisor with one listening socket per worker instead of one for all."""

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets=[])
        self.address = sockets[0].getsockname()[:2]
        self._first_sockets = sockets  # bound before any worker starts: a port in use fails at once

    def _start(self, sock: socket.socket | None = None) -> Process:
        """A worker listening on ``sock`` (default: a fresh socket on the address); the supervisor's copy
        is closed once the worker has its own, so the socket lives and dies with the worker."""
        sock = sock or _bound(*self.address)
        try:
            process = WorkerProcess(self.config, [sock])
            process.start()
        finally:
            sock.close()
        return process

    def init_processes(self) -> None:
        self.processes = [self._start(sock) for sock in self._first_sockets]

    def restart_all(self) -> None:
        """Each worker in turn: the replacement starts and answers before the old worker stops."""
        for slot, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._start()
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                log.error("a new worker [%s] did not answer in time; keeping [%s]", new.pid, old.pid)
                return
            old.terminate()
            old.join()
            self.processes[slot] = new

    def keep_subprocess_alive(self) -> None:
        """A worker that died or hangs is replaced; one that could not start stops the server."""
        for slot, process in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                log.error("worker [%s] failed to start; stopping the server", process.pid)
                self.should_exit.set()
                return
            log.info("worker [%s] died; starting another on a fresh socket", process.pid)
            self.processes[slot] = self._start()

    def handle_ttin(self) -> None:
        log.warning("the number of workers is fixed: restart the server with another --workers")

    def handle_ttou(self) -> None:
        log.warning("the number of workers is fixed: restart the server with another --workers")
