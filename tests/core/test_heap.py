"""Memory that a burst of work freed goes back to the system: the monitoring runner's heap stays flat."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shipyard import monitor_runner
from shipyard.config import load_settings
from shipyard.monitor_runner import MonitorRunner, RunnerConfig

# In a fresh process: after a freed 20 MB block, glibc serves 1 MB blocks from the thread's arena; with all
# but the topmost freed, the arena holds ~60 MB it cannot return by itself.
_FRAGMENTED = textwrap.dedent(
    """
    import threading
    import numpy as np
    from shipyard._heap import release_free_memory

    def rss():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * 4096 // 2**20

    def work():
        big = np.ones(20 * 2**20 // 8)
        del big
        blocks = [np.ones(2**20 // 8) for _ in range(64)]
        del blocks[:-1]
        before = rss()
        returned = release_free_memory()
        print(before, rss(), returned)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_free_pages_of_a_threads_arena_go_back_to_the_system() -> None:
    done = subprocess.run([sys.executable, "-c", _FRAGMENTED], capture_output=True, text=True, check=True)
    before, after, returned = done.stdout.split()
    assert returned == "True" and int(before) - int(after) >= 40, done.stdout


def test_a_monitoring_tick_ends_by_releasing_free_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    released: list[bool] = []
    monkeypatch.setattr(monitor_runner, "release_free_memory", lambda: released.append(True) or True)
    runner = MonitorRunner(load_settings(tmp_path / "ws"), RunnerConfig([], alerts=False))
    assert runner.run_once(datetime.now(UTC)) == [] and released == [True]
