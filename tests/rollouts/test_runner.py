"""The rollout controller on a timer: the runner in a thread against a real workspace and prediction log,
``shipyard rollout run --once``, and what ``shipyard serve`` says it starts beside the server."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from shipyard import Registry
from shipyard.cli import main
from shipyard.config import load_settings
from shipyard.rollout_runner import RolloutRunner, RolloutRunnerConfig, start_rollout_process
from shipyard.rollouts import service as rollouts
from shipyard.rollouts.controller import step_clock
from shipyard.server import ServeOptions, plan_server
from tests.models import classification_frame, tiny_classifier
from tests.rollouts.traffic import answered, write


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace with fraud v1 and v2, fraud@production on v1, and a canary to v2 with 1 s steps."""
    home = tmp_path / "ws"
    monkeypatch.setenv("SHIPYARD_HOME", str(home))
    frame, _ = classification_frame()
    with Registry(home=home) as registry:
        for seed in range(2):
            registry.register("fraud", tiny_classifier(seed), reference=frame)
        registry.set_alias("fraud", "production", 1)
        rollouts.start(registry, {"model": "fraud", "to": 2, "interval": 1, "min_requests": 20})
    return home


def _traffic(home: Path) -> None:
    """Good traffic on both arms just after the current step began."""
    with Registry(home=home) as registry:
        [current] = rollouts.status(registry)
        at = step_clock(rollouts.get(registry, current.id)).running_since + timedelta(milliseconds=50)
        url = registry.settings.log_url
    write(url, answered(30, version=1, arm="stable", at=at) + answered(30, version=2, arm="canary", at=at))


def test_the_runner_advances_a_rollout_on_its_own(home: Path) -> None:
    _traffic(home)
    runner = RolloutRunner(load_settings(home), RolloutRunnerConfig(interval_seconds=0.5))
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with Registry(home=home) as registry:
                [current] = rollouts.status(registry)
            if current.step_index == 1:
                break
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert (current.step_index, current.candidate_share) == (1, 0.25)


def test_the_runner_sidecar_process_advances_a_rollout(home: Path) -> None:
    _traffic(home)
    process = start_rollout_process(load_settings(home), RolloutRunnerConfig(interval_seconds=0.5))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.is_alive()
            with Registry(home=home) as registry:
                [current] = rollouts.status(registry)
            if current.step_index == 1:
                break
            time.sleep(0.3)
    finally:
        process.terminate()
        process.join(timeout=10)
    assert current.step_index == 1 and process.exitcode is not None


def test_rollout_run_once_reports_what_it_did(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["rollout", "run", "--once"]) == 0
    # Within the step's 1 s interval there is nothing to do; on a loaded machine the interval may have run
    # by now, and then the step waits for the traffic it has not had: either way the runner says so.
    said = capsys.readouterr().out
    assert (
        "nothing to do: no running rollout has run its interval" in said
        or "wait (running, step 1, 5% to the candidate): not enough data yet" in said
    ), said
    _traffic(home)
    time.sleep(1.2)  # the step's interval, on the real clock
    assert main(["rollout", "run", "--once", "--json"]) == 0
    [transition] = json.loads(capsys.readouterr().out)
    assert (transition["action"], transition["step_index"], transition["verdict"]) == ("step", 1, "pass")


def test_serve_runs_the_rollout_controller_unless_told_not_to(home: Path) -> None:
    settings = load_settings(home)
    lines = plan_server(["fraud@production"], ServeOptions(rollout_interval=2), settings=settings).describe()
    assert "advancing rollouts every 2 s" in lines
    quiet = plan_server(["fraud@production"], ServeOptions(rollouts=False), settings=settings).describe()
    assert not any("rollouts" in line for line in quiet)
