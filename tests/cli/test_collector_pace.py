"""The command line's own process, a monitoring worker and a server worker while it starts run the garbage
collector every 100,000 allocations instead of Python's 700 (they build thousands of small results over a
heap of half a million imported objects); a server worker goes back to the usual pace once ready; ``main``
called inside another process leaves that process's pace alone."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

from shipyard._collector import ALLOCATIONS_BETWEEN_COLLECTIONS, collect_as_before, collect_rarely
from shipyard.cli import main
from shipyard.server.lifespan import _freeze_what_lives_forever


def _threshold_after(code: str) -> int:
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return int(found.stdout.strip().splitlines()[-1])


def test_the_console_script_collects_rarely() -> None:
    code = (
        "import gc, shipyard.cli as cli, shipyard.cli._main as command_line\n"
        "command_line.main = lambda argv=None: print(gc.get_threshold()[0]) or 0\n"
        "try:\n    cli.run()\nexcept SystemExit:\n    pass\n"
    )
    assert _threshold_after(code) == ALLOCATIONS_BETWEEN_COLLECTIONS


def test_a_monitoring_worker_collects_rarely(tmp_path: Path) -> None:
    code = (
        "import gc\n"
        "from shipyard.config import load_settings\n"
        "from shipyard.monitoring import parallel\n"
        f"parallel._open(load_settings({str(tmp_path)!r}))\n"
        "print(gc.get_threshold()[0])\n"
    )
    assert _threshold_after(code) == ALLOCATIONS_BETWEEN_COLLECTIONS


def test_a_server_worker_collects_rarely_while_it_starts() -> None:
    code = (
        "import gc, os\n"
        "from uvicorn.supervisors.multiprocess import Process\n"
        "from shipyard.server.workers import WorkerProcess\n"
        "Process.target = lambda self, sockets=None: print(gc.get_threshold()[0])  # where uvicorn serves\n"
        "worker = object.__new__(WorkerProcess)\n"
        "worker.environment = dict(os.environ)\n"
        "WorkerProcess.target(worker, [])\n"
    )
    assert _threshold_after(code) == ALLOCATIONS_BETWEEN_COLLECTIONS


def test_a_ready_worker_collects_at_its_usual_pace_again() -> None:
    before = gc.get_threshold()
    collect_rarely()
    try:
        _freeze_what_lives_forever()  # the end of a worker's start
        assert gc.get_threshold() == before
    finally:
        collect_as_before()
        gc.unfreeze()


def test_main_inside_another_process_leaves_its_pace_alone() -> None:
    before = gc.get_threshold()
    assert main(["--version"]) == 0
    assert gc.get_threshold() == before
