"""A long range spread over worker processes gives, stores and yields in order exactly what one process
does, and works from a script with no ``if __name__ == "__main__"`` guard."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shipyard import Registry
from shipyard.errors import Unavailable
from shipyard.monitoring import series
from shipyard.monitoring.parallel import Chunk, monitor_in_processes
from shipyard.monitoring.series import monitor_range, stored_windows
from shipyard.monitoring.windows import WindowResult
from shipyard.predictions import PredictionLog
from shipyard.registry import ModelVersion
from tests.models import transactions
from tests.monitoring.conftest import served_copy
from tests.serving.conftest import FEATURES

HOUR = timedelta(hours=1)
START = datetime(2026, 3, 1, tzinfo=UTC)
END = START + timedelta(days=2)
BUSY = [START + timedelta(hours=hours) for hours in (1, 2, 7, 20, 26, 40)]


@pytest.fixture(scope="module")
def busy_days(trained: tuple[Path, ModelVersion], tmp_path_factory: pytest.TempPathFactory) -> Path:
    requests = [
        (hour + timedelta(minutes=5), transactions(rows=120, seed=number)[FEATURES])
        for number, hour in enumerate(BUSY)
    ]
    return served_copy(trained, tmp_path_factory, "parallel", requests)


def _run(home: Path, processes: int) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """What monitor_range yields, and then what is stored, as reports."""
    with Registry(home=home) as registry:
        log = PredictionLog(registry.settings.log_url)
        version = registry.resolve("fraud/1")
        results = monitor_range(registry, log, [version], START, END, HOUR, processes=processes)
        yielded = [result.to_dict() for result in results]
        stored = [window.report for window in stored_windows(registry, "fraud", HOUR, start=START, end=END)]
    return yielded, stored


def test_worker_processes_yield_and_store_what_one_process_does(
    busy_days: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(series, "_CHUNK_WINDOWS", 2)  # three chunks of two busy hours each
    single_home, spread_home = tmp_path / "single", tmp_path / "spread"
    shutil.copytree(busy_days, single_home)
    shutil.copytree(busy_days, spread_home)

    single = _run(single_home, processes=1)
    spread = _run(spread_home, processes=2)

    starts = [str(report["start"]) for report in spread[0]]
    assert len(starts) == 48 and starts == sorted(starts)
    assert spread == single
    assert sum(1 for report in spread[0] if report["rows"]) == len(BUSY)


def test_a_script_without_a_main_guard_spreads_a_range_once(busy_days: Path, tmp_path: Path) -> None:
    """Spawned workers import the parent's main script again unless shown none; this one would run its
    top-level code again in each worker, and fail there."""
    home, ran = tmp_path / "ws", tmp_path / "ran.txt"
    shutil.copytree(busy_days, home)
    script = tmp_path / "monitor_month.py"
    script.write_text(
        textwrap.dedent(f"""
            from datetime import datetime, timedelta
            from shipyard import Registry
            from shipyard.monitoring import series
            from shipyard.predictions import PredictionLog

            with open({str(ran)!r}, "a") as marks:
                marks.write("ran\\n")
            series._CHUNK_WINDOWS = 2
            start = datetime.fromisoformat({START.isoformat()!r})
            with Registry(home={str(home)!r}) as registry:
                log = PredictionLog(registry.settings.log_url)
                version = registry.resolve("fraud/1")
                hour = timedelta(hours=1)
                end = start + timedelta(days=2)
                results = series.monitor_range(registry, log, [version], start, end, hour, processes=2)
                print(sum(result.rows > 0 for result in results))
        """)
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(len(BUSY))]
    assert ran.read_text() == "ran\n"


def _die(*_: object) -> Iterator[WindowResult]:
    """A worker's monitor that dies as an out-of-memory kill would end it."""
    os._exit(137)


def test_a_worker_that_dies_is_a_clear_error(busy_days: Path) -> None:
    with Registry(home=busy_days) as registry:
        chunks = [Chunk("fraud", 1, START, START + HOUR), Chunk("fraud", 1, START + HOUR, START + 2 * HOUR)]
        with pytest.raises(Unavailable, match="monitoring worker process died"):
            list(monitor_in_processes(registry.settings, _die, chunks, HOUR, None, processes=2))
