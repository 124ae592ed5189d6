"""``shipyard.serve`` from Python: the same server, checks and process layout as ``shipyard serve``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from shipyard.config import load_settings
from shipyard.errors import NotFound
from shipyard.server import ServeOptions, plan_server
from tests.serving.conftest import free_port


def test_a_reference_that_does_not_resolve_is_refused_before_any_process_starts(workspace: Path) -> None:
    with pytest.raises(NotFound, match="frud"):
        plan_server(["frud@production"], settings=load_settings(workspace))


def test_the_plan_says_what_starting_it_will_run(workspace: Path) -> None:
    options = ServeOptions(port=9999, workers=3, monitor_interval=30, scheduler=True)
    plan = plan_server(["fraud@production"], options, settings=load_settings(workspace))
    lines = plan.describe()
    assert lines[0] == "serving fraud@production (now fraud/1) on http://127.0.0.1:9999 with 3 worker(s)"
    assert "monitoring every 30 s in 1h windows" in lines
    assert lines[-1] == "running the schedules beside the server"
    assert plan.config.max_body_bytes == 10 * 1024 * 1024 and plan.config.references == ["fraud@production"]


def test_serve_from_python_answers_predictions(workspace: Path) -> None:
    port = free_port()
    script = textwrap.dedent(
        f"""
        import shipyard

        options = shipyard.ServeOptions(port={port}, monitor=False)
        shipyard.serve(["fraud@production"], options, announce=lambda line: print(line, flush=True))
        """
    )
    environment = {**os.environ, "SHIPYARD_HOME": str(workspace)}
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = workspace / f"python-serve-{port}.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", script], env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, process, log)
        row = {"amount": 12.5, "channel": "web", "hour": 3}
        answer = httpx.post(f"{url}/v1/models/fraud/predict", json={"records": [row]}, timeout=30)
        assert answer.status_code == 200 and answer.json()["version"] == 1
        assert f"serving fraud@production (now fraud/1) on http://127.0.0.1:{port}" in log.read_text()
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the server exited early:\n{log.read_text()}"
        try:
            if httpx.get(f"{url}/health/ready", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server did not become ready:\n{log.read_text()}")
