"""The monitoring runner process ends with its server, even when the server is killed with SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from shipyard.workspace import init_workspace

SERVER = """
import sys, time
from shipyard.config import load_settings
from shipyard.monitor_runner import RunnerConfig, start_runner_process

runner = start_runner_process(load_settings(sys.argv[1]), RunnerConfig([], 3600, 1.0, alerts=False))
print(runner.pid, flush=True)
time.sleep(600)
"""


def test_a_runner_whose_server_was_killed_stops_on_its_own(tmp_path: Path) -> None:
    home = init_workspace(tmp_path / "ws").home
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(home)], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    runner = psutil.Process(int(server.stdout.readline()))
    assert runner.is_running() and runner.ppid() == server.pid
    server.send_signal(signal.SIGKILL)  # no atexit, no chance to stop its children
    server.wait(timeout=10)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _alive(runner):
        time.sleep(0.2)
    assert not _alive(runner), "the orphaned monitoring runner kept running"


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
