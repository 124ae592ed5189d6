"""The image's entrypoint and HEALTHCHECK, run for real on this machine with the venv's shipyard: each role
starts the command it names, listens where a container must, answers its probe, and stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.deploy.conftest import (
    ENTRYPOINT,
    Role,
    entrypoint_environment,
    run_healthcheck,
    start_role,
    stop_role,
)
from tests.serving.conftest import free_port


def assert_stops_gracefully(role: Role) -> None:
    """SIGTERM shuts the server down (lifespan ended, process finished), then uvicorn re-raises the signal
    so the exit status says how it ended: -15 here, 143 as a container's exit code."""
    status = stop_role(role)
    assert status in (0, -signal.SIGTERM), role.log_text()
    assert "Application shutdown complete" in role.log_text()


def test_serve_listens_beyond_loopback_and_its_healthcheck_follows_readiness(
    workspace: Path, started: list[Role]
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    role = start_role(
        workspace, "serve", "churn@production", "--port", str(port), ready_url=f"{url}/health/ready"
    )
    started.append(role)
    assert f"on http://0.0.0.0:{port}" in role.log_text()  # a container is reached on its own address
    answer = httpx.post(f"{url}/v1/models/churn/predict", json={"records": [{"a": 1.0, "b": 0.5, "c": -1.0}]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == [1]

    healthy = run_healthcheck(role.process.pid)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert f"{url}/health/ready answered 200" in healthy.stdout

    assert_stops_gracefully(role)
    stopped = run_healthcheck(role.process.pid)
    assert stopped.returncode == 1


def test_a_host_given_after_the_role_wins(workspace: Path, started: list[Role]) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/health/ready"
    role = start_role(
        workspace, "serve", "churn@production", "--host", "127.0.0.1", "--port", str(port), ready_url=url
    )
    started.append(role)
    assert f"on http://127.0.0.1:{port}" in role.log_text()


def test_server_role_is_the_control_plane_with_auth_on(workspace: Path, started: list[Role]) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    role = start_role(workspace, "server", "--port", str(port), ready_url=f"{url}/health")
    started.append(role)
    # Listening beyond loopback turns auth on: the API wants a token, the probe does not.
    assert httpx.get(f"{url}/api/v1/models").status_code == 401
    healthy = run_healthcheck(role.process.pid)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert f"{url}/health answered 200" in healthy.stdout
    assert_stops_gracefully(role)


def test_scheduler_role_is_healthy_while_it_runs(workspace: Path, started: list[Role]) -> None:
    role = start_role(workspace, "scheduler", "--interval", "0.5")
    started.append(role)
    healthy = run_healthcheck(role.process.pid)
    assert role.process.poll() is None, role.log_text()
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "scheduler is running" in healthy.stdout


def test_healthcheck_fails_while_a_model_is_not_ready(workspace: Path, started: list[Role]) -> None:
    """A serve process whose port answers nothing yet (or any more) is unhealthy, not healthy by default."""
    port = free_port()
    role = start_role(workspace, "serve", "churn@production", "--port", str(port))
    started.append(role)
    early = run_healthcheck(role.process.pid)  # the interpreter is still importing: nothing listens yet
    assert early.returncode == 1
    assert f"http://127.0.0.1:{port}/health/ready" in early.stdout + early.stderr


def test_healthcheck_fails_on_a_process_that_is_no_shipyard_role() -> None:
    checked = run_healthcheck(1 if Path("/proc/1/cmdline").exists() else 0)
    own = subprocess.run(
        [sys.executable, str(ENTRYPOINT.parent / "healthcheck.py"), "--pid", "999999999"],
        capture_output=True,
        text=True,
    )
    assert own.returncode == 1 and "unhealthy" in own.stderr
    if b"shipyard" not in Path("/proc/1/cmdline").read_bytes():
        assert checked.returncode == 1 and "not a shipyard role" in checked.stderr


def test_other_arguments_pass_through_to_shipyard(workspace: Path) -> None:
    environment = {**entrypoint_environment(workspace), "SHIPYARD_LOG_SAMPLE_RATE": "0.25"}
    ran = subprocess.run(
        ["sh", str(ENTRYPOINT), "config", "--json"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    settings = json.loads(ran.stdout)
    assert settings["home"] == str(workspace)
    assert settings["log_sample_rate"] == 0.25  # configured by SHIPYARD_* variables, as in a container


def test_no_arguments_prints_the_help(workspace: Path) -> None:
    ran = subprocess.run(
        ["sh", str(ENTRYPOINT)],
        env=entrypoint_environment(workspace),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0
    assert "serve" in ran.stdout and "scheduler" in ran.stdout


def test_an_unknown_role_fails_with_shipyards_message(workspace: Path) -> None:
    ran = subprocess.run(
        ["sh", str(ENTRYPOINT), "serv"],
        env=entrypoint_environment(workspace),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode != 0
    assert "serv" in ran.stderr
