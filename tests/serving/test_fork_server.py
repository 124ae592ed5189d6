"""The fork server the workers start from: started with what the libraries read at import, without the
token, and leaving the supervisor's own environment as it was."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

SCRIPT = """
import json, os, psutil
os.environ["SHIPYARD_SERVE_TOKEN"] = "s3cret"
os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
from shipyard.server.fork_server import start_fork_server
start_fork_server("local", 2)
[server] = [c for c in psutil.Process().children() if "multiprocessing.forkserver" in " ".join(c.cmdline())]
print(json.dumps({"fork server": server.environ(), "supervisor": dict(os.environ)}))
"""


def test_the_fork_server_starts_without_the_token_and_with_what_libraries_read_at_import() -> None:
    command = [sys.executable, "-c", SCRIPT]
    ran = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    found = json.loads(ran.stdout.strip().splitlines()[-1])
    fork_server, supervisor = found["fork server"], found["supervisor"]
    assert "SHIPYARD_SERVE_TOKEN" not in fork_server
    assert supervisor["SHIPYARD_SERVE_TOKEN"] == "s3cret"  # still there for the checks that read it
    assert fork_server["OMP_NUM_THREADS"] == "1"
    metrics = fork_server["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(metrics, ignore_errors=True)
    assert metrics == supervisor["PROMETHEUS_MULTIPROC_DIR"] and "shipyard-metrics-" in metrics


def test_only_several_local_workers_start_a_fork_server() -> None:
    """One worker runs in the server's own process, and Ray starts its replicas itself: no fork server."""
    script = (
        "import psutil\n"
        "from shipyard.server.fork_server import start_fork_server\n"
        "start_fork_server('local', 1)\n"
        "start_fork_server('ray', 4)\n"
        "print(len(psutil.Process().children()))"
    )
    command = [sys.executable, "-c", script]
    ran = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    assert ran.stdout.split() == ["0"]
