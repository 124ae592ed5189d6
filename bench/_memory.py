"""Memory of a server's processes, read from /proc, for bench/serving.py's footprint and soak parts.

Three measures per process: RSS (every page it has resident, shared ones included), PSS (each shared page
divided among the processes sharing it, so a tree's PSS adds up to what the tree really costs the machine)
and private (pages no other process maps). Each process also gets its role in the server, found from what it
is rather than from its order of birth: the one holding the listening socket at the root is the supervisor,
its spawned children holding it are workers, multiprocessing's resource tracker names itself on its command
line, and a spawned child without the socket is the companion (shipyard's runners); a process the companion
starts in turn (the monitoring runner merging a finished hour apart) is a companion child, which ends by
design.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

KIB_PER_MIB = 1024
#: The order roles are listed in: the tree from its root down.
ROLE_ORDER = (
    "launcher",
    "supervisor",
    "fork server",
    "worker",
    "companion",
    "companion child",
    "resource tracker",
    "other",
)
#: Roles of processes that live seconds by design: their memory ends with them, so it cannot grow.
SHORT_LIVED = frozenset({"companion child"})


@dataclass(frozen=True)
class ProcessMemory:
    """One process's memory in MiB, from /proc/<pid>/smaps_rollup."""

    pid: int
    role: str
    rss_mib: float
    pss_mib: float
    private_mib: float


def read_memory(pid: int, role: str) -> ProcessMemory | None:
    """RSS, PSS and private (clean + dirty) of ``pid``; None if it is gone."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return None
    kib: dict[str, int] = {}
    for line in lines[1:]:  # the first line names the address range
        key, _, rest = line.partition(":")
        values = rest.split()
        if len(values) == 2 and values[1] == "kB":
            kib[key] = int(values[0])
    private = kib.get("Private_Clean", 0) + kib.get("Private_Dirty", 0)
    return ProcessMemory(
        pid, role, kib.get("Rss", 0) / KIB_PER_MIB, kib.get("Pss", 0) / KIB_PER_MIB, private / KIB_PER_MIB
    )


def tree_total(processes: list[ProcessMemory]) -> ProcessMemory:
    """The sums over a tree (pid 0): RSS counts shared pages once per process, PSS and private do not."""
    return ProcessMemory(
        0,
        f"tree total ({len(processes)} processes)",
        sum(process.rss_mib for process in processes),
        sum(process.pss_mib for process in processes),
        sum(process.private_mib for process in processes),
    )


def rss_mib(pid: int) -> float | None:
    """The resident set of ``pid`` in MiB (VmRSS, cheaper to read than smaps_rollup); None if it is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    found = [line for line in lines if line.startswith("VmRSS:")]
    return int(found[0].split()[1]) / KIB_PER_MIB if found else None


def role_of(pid: int, root: int, port: int) -> str:
    """What ``pid`` is in the server rooted at ``root`` that listens on ``port``."""
    try:
        process = psutil.Process(pid)
        command = " ".join(process.cmdline())
        parent = process.ppid()
        listening = any(
            connection.status == psutil.CONN_LISTEN and connection.laddr.port == port
            for connection in process.net_connections(kind="tcp")
        )
    except psutil.Error:
        return "other"
    spawned = "multiprocessing.spawn" in command
    forked = "multiprocessing.forkserver" in command  # the fork server, and the workers it forked
    if "multiprocessing.resource_tracker" in command:
        return "resource tracker"
    if pid == root:
        return "supervisor" if listening else "launcher"
    if listening:
        return "worker" if spawned or forked else "supervisor"
    if forked:
        return "fork server"
    if parent != root:  # started by the companion: the merge of a finished hour
        return "companion child"
    return "companion" if spawned else "other"


def role_rank(role: str) -> int:
    return ROLE_ORDER.index(role) if role in ROLE_ORDER else len(ROLE_ORDER)


@dataclass
class RssSampler:
    """Every process of a tree, its RSS every ``interval`` seconds, in a thread of its own until stopped.

    ``tree`` lists the tree's pids now (a process started later is sampled from then on); ``role`` names a
    pid, once, when it is first seen."""

    tree: Callable[[], set[int]]
    role: Callable[[int], str]
    interval: float
    #: pid -> (seconds since start, RSS MiB), in order.
    samples: dict[int, list[tuple[float, float]]] = field(default_factory=dict)
    _roles: dict[int, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _started: float = 0.0

    def start(self) -> None:
        self._started = time.monotonic()
        self.sample()  # the first sample before start returns: the roles are known from now on
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling after one last sample."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.sample()

    def roles(self) -> dict[int, str]:
        with self._lock:
            return dict(self._roles)

    def sample(self) -> None:
        now = time.monotonic() - self._started
        for pid in sorted(self.tree()):
            with self._lock:
                known = pid in self._roles
            if not known:
                role = self.role(pid)
                with self._lock:
                    self._roles[pid] = role
            resident = rss_mib(pid)
            if resident is not None:
                with self._lock:
                    self.samples.setdefault(pid, []).append((now, resident))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()


def numbered_roles(roles: dict[int, str]) -> dict[int, str]:
    """Each pid's role, numbered where several processes share one ("worker 1", "worker 2") by pid."""
    counts: dict[str, int] = {}
    for role in roles.values():
        counts[role] = counts.get(role, 0) + 1
    labels, seen = {}, dict.fromkeys(counts, 0)
    for pid in sorted(roles):
        role = roles[pid]
        seen[role] += 1
        labels[pid] = f"{role} {seen[role]}" if counts[role] > 1 else role
    return labels
