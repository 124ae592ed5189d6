"""The worker processes of ``shipyard serve``, each listening on a socket of its own on the shared port.

uvicorn's supervisor hands every worker the same listening socket, and the workers race to accept from it:
an event loop that wakes first takes every connection waiting, so a burst of new connections (a client
pool opening, a load balancer reconnecting) can land on one worker while the other idles. Measured here,
64 connections opened at once split 64/0, 39/25 or 36/28 from run to run, and the p99 latency followed
the busier worker. Here each worker slot gets its own socket bound with ``SO_REUSEPORT`` to the same
address, and the kernel spreads new connections over the slots' sockets by a hash of the connection.

A slot's socket takes connections only once its worker listens on it, after the worker has loaded its
models, so none wait on a worker that is still starting. When a worker dies, its slot gets a fresh socket
for the replacement: until that one answers, the kernel sends every new connection to the workers alive
(connections the dead worker had not yet accepted are reset, and a client retries them). The number of
workers is fixed (SIGTTIN/SIGTTOU are declined; restart with another ``--workers``); SIGHUP still replaces
each worker in turn, the new one taking over the slot's socket before the old one stops.
"""

from __future__ import annotations

import logging
import socket
import sys

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors.multiprocess import Multiprocess, Process

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


class SlottedWorkers(Multiprocess):
    """uvicorn's supervisor with one listening socket per worker slot instead of one for all."""

    def __init__(self, config: Config, slots: list[socket.socket]) -> None:
        super().__init__(config, sockets=[])
        self.slots = slots

    def _start(self, slot: int) -> Process:
        process = Process(self.config, [self.slots[slot]])
        process.start()
        return process

    def _renew(self, slot: int) -> None:
        """A fresh socket for ``slot``, listening once its next worker is ready; the old one is closed."""
        old = self.slots[slot]
        host, port = old.getsockname()[:2]
        try:
            self.slots[slot] = _bound(host, port)
        except OSError as error:  # the replacement takes over the old socket then
            log.warning("no fresh socket for the new worker (%s); it takes over the old one", error)
            return
        old.close()

    def init_processes(self) -> None:
        self.processes = [self._start(slot) for slot in range(len(self.slots))]

    def restart_all(self) -> None:
        """Each slot in turn: the replacement starts and answers before the old worker stops."""
        for slot, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._start(slot)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                log.error("a new worker [%s] did not answer in time; keeping [%s]", new.pid, old.pid)
                return
            old.terminate()
            old.join()
            self.processes[slot] = new

    def keep_subprocess_alive(self) -> None:
        """A worker that died or hangs is replaced on its slot; one that could not start stops the server."""
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
            self._renew(slot)
            self.processes[slot] = self._start(slot)

    def handle_ttin(self) -> None:
        log.warning("the number of workers is fixed: restart the server with another --workers")

    def handle_ttou(self) -> None:
        log.warning("the number of workers is fixed: restart the server with another --workers")

    def run(self) -> None:
        try:
            super().run()
        finally:
            for sock in self.slots:
                sock.close()
