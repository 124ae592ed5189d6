"""The sidecars' periodic loop: a failing pass is logged and the next one runs; a known shipyard error (the
database away) in one line, anything else with its traceback so it can be found. A companion runs several
runners in one process, and only once its server answers."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shipyard.config import load_settings
from shipyard.errors import Unavailable
from shipyard.sidecars import RunnerSpec, parent_gone, run_every, start_companion


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


@dataclass(frozen=True)
class MarkConfig:
    folder: str
    label: str


class MarkRunner:
    """A runner that leaves a file naming its process, then sleeps until told to stop."""

    def __init__(self, settings: object, config: MarkConfig) -> None:
        self.settings = settings
        self.config = config

    def run(self, stop: threading.Event | None = None, *, parent: int | None = None) -> None:
        (Path(self.config.folder) / self.config.label).write_text(str(os.getpid()))
        (Path(self.config.folder) / f"{self.config.label}.home").write_text(
            str(getattr(self.settings, "home", ""))
        )
        while stop is not None and not stop.wait(0.2) and not parent_gone(parent):
            pass


class Readiness(BaseHTTPRequestHandler):
    """Answers 503 until the server's ``ready`` flag is set, then 200."""

    def do_GET(self) -> None:
        self.send_response(200 if self.server.ready else 503)  # type: ignore[attr-defined]
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def readiness() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Readiness)
    server.ready = False  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_companion_runs_its_runners_in_one_process_once_the_server_answers(
    tmp_path: Path, readiness: ThreadingHTTPServer
) -> None:
    specs = [
        RunnerSpec(
            f"{__name__}:MarkRunner", f"{__name__}:MarkConfig", {"folder": str(tmp_path), "label": label}
        )
        for label in ("first", "second")
    ]
    url = f"http://127.0.0.1:{readiness.server_address[1]}/health/ready"
    companion = start_companion(None, specs, ready_url=url)
    try:
        time.sleep(1.5)  # answering 503: the runners must not have started
        assert companion.is_alive() and not list(tmp_path.iterdir())
        readiness.ready = True  # type: ignore[attr-defined]
        deadline = time.monotonic() + 60
        marks = [tmp_path / label for label in ("first", "second")]
        # Each runner writes its mark, then its ".home": once that exists, the mark is whole.
        while time.monotonic() < deadline and not all(mark.with_suffix(".home").exists() for mark in marks):
            time.sleep(0.1)
        pids = {mark.read_text() for mark in marks}
        assert pids == {str(companion.pid)}
    finally:
        companion.terminate()
        companion.join(10)


def test_a_companion_loads_its_settings_only_once_the_server_answers(
    tmp_path: Path, readiness: ThreadingHTTPServer
) -> None:
    """Unpickling the settings imports pydantic (0.15 s of CPU), not to be taken from the starting workers."""
    marks = tmp_path / "marks"
    marks.mkdir()
    settings = load_settings(tmp_path / "ws")
    spec = RunnerSpec(
        f"{__name__}:MarkRunner", f"{__name__}:MarkConfig", {"folder": str(marks), "label": "a"}
    )
    url = f"http://127.0.0.1:{readiness.server_address[1]}/health/ready"
    companion = start_companion(settings, [spec], ready_url=url)
    try:
        time.sleep(1.5)
        assert "pydantic_core" not in Path(f"/proc/{companion.pid}/maps").read_text(encoding="utf-8")
        readiness.ready = True  # type: ignore[attr-defined]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (marks / "a.home").exists():
            time.sleep(0.1)
        assert (marks / "a.home").read_text() == str(settings.home)
    finally:
        companion.terminate()
        companion.join(10)
