"""The sidecars' periodic loop: a failing pass is logged and the next one runs; a known shipyard error (the
database away) in one line, anything else with its traceback so it can be found."""

from __future__ import annotations

import logging
import threading

import pytest

from shipyard.errors import Unavailable
from shipyard.sidecars import run_every


def passes_failing_with(error: Exception, caplog: pytest.LogCaptureFixture) -> tuple[int, list[str]]:
    stop = threading.Event()
    calls = 0

    def work() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            stop.set()
        raise error

    with caplog.at_level(logging.WARNING, logger="shipyard.runner"):
        run_every(work, 0.01, stop, parent=None, name="runner")
    return calls, caplog.text.splitlines()


def test_a_database_outage_is_one_line_per_pass_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls, lines = passes_failing_with(
        Unavailable("the metadata database is unreachable; retry in 5 s"), caplog
    )
    assert calls == 3
    assert len(lines) == 3 and all("the runner pass failed: the metadata database" in line for line in lines)
    assert "Traceback" not in "\n".join(lines)


def test_an_unexpected_failure_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    calls, _ = passes_failing_with(RuntimeError("a bug"), caplog)
    assert calls == 3
    assert caplog.text.count("Traceback") == 3 and "RuntimeError: a bug" in caplog.text
