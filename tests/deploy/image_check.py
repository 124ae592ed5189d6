"""The container image, built from the Dockerfile and run for real (``make image-check``; not in
``make test``: a build takes minutes and needs a container engine).

The build uses the engine named by ``SHIPYARD_TEST_CONTAINER`` (docker or podman) on the base image named by
``SHIPYARD_TEST_PYTHON_IMAGE``; ``SHIPYARD_TEST_CONTAINER_OPTIONS`` adds options to every build and run (a
runtime or ulimits a sandbox needs). pip's CA bundle (``PIP_CERT``), where one is set, is handed to the
build as its ``pip-ca`` secret. Each role then runs from the image as its users would run it: read-only,
as the image's own user, with the workspace on a volume.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shipyard.registry import Registry
from tests.deploy.conftest import ROOT
from tests.models import classification_frame, tiny_classifier
from tests.serving.conftest import free_port

pytestmark = pytest.mark.slow

ENGINE = os.environ.get("SHIPYARD_TEST_CONTAINER", "docker")
OPTIONS = shlex.split(os.environ.get("SHIPYARD_TEST_CONTAINER_OPTIONS", ""))
PYTHON_IMAGE = os.environ.get("SHIPYARD_TEST_PYTHON_IMAGE", "python:3.11-slim-bookworm")
IMAGE_USER = "10001"


def engine(*arguments: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    ran = subprocess.run([ENGINE, *arguments], capture_output=True, text=True, timeout=timeout)
    if check and ran.returncode != 0:
        raise AssertionError(
            f"{ENGINE} {' '.join(arguments)} failed ({ran.returncode}):\n{ran.stderr[-4000:]}"
        )
    return ran


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    if shutil.which(ENGINE) is None:
        pytest.fail(f"{ENGINE} is not installed; set SHIPYARD_TEST_CONTAINER to docker or podman")
    tag = f"localhost/shipyard:check-{uuid.uuid4().hex[:8]}"
    build = ["build", *OPTIONS, "--build-arg", f"PYTHON_IMAGE={PYTHON_IMAGE}", "-t", tag]
    if ENGINE == "podman":
        build += ["--format", "docker"]  # the OCI format has no HEALTHCHECK
    if os.environ.get("PIP_CERT"):
        build += ["--secret", f"id=pip-ca,src={os.environ['PIP_CERT']}"]
    engine(*build, str(ROOT), timeout=1800)
    yield tag
    engine("rmi", "-f", tag, check=False)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace with ``churn@production``, owned by the image's user as a volume would be."""
    home = tmp_path / "ws"
    frame, _ = classification_frame()
    with Registry(home=home, actor="tests") as registry:
        version = registry.register("churn", tiny_classifier(), reference=frame)
        registry.set_alias("churn", "production", version.version, reason="image check")
    subprocess.run(["chown", "-R", f"{IMAGE_USER}:{IMAGE_USER}", str(home)], check=True)
    return home


@contextlib.contextmanager
def container(image: str, home: Path, port: int, container_port: int, *arguments: str) -> Iterator[str]:
    name = f"shipyard-check-{uuid.uuid4().hex[:8]}"
    engine(
        "run", "--detach", "--name", name, *OPTIONS, "--read-only", "--tmpfs", "/tmp",
        "--volume", f"{home}:/var/lib/shipyard", "--publish", f"127.0.0.1:{port}:{container_port}",
        image, *arguments,
    )  # fmt: skip
    try:
        yield name
    finally:
        engine("rm", "--force", name, check=False)


def wait_until_healthy(name: str, timeout: float = 120) -> str:
    """Run the image's own HEALTHCHECK command in the container until it passes; its last output."""
    deadline = time.monotonic() + timeout
    checked = None
    while time.monotonic() < deadline:
        checked = engine("exec", name, "python3", "/usr/local/lib/shipyard/healthcheck.py", check=False)
        if checked.returncode == 0:
            return checked.stdout
        time.sleep(1)
    logs = engine("logs", name, check=False)
    raise AssertionError(
        f"{name} never became healthy: {checked and checked.stdout}\n{logs.stdout}{logs.stderr}"
    )


def test_the_image_runs_as_its_own_user_without_build_tools(image: str) -> None:
    ran = engine(
        "run", "--rm", *OPTIONS, "--entrypoint", "sh", image, "-c", "id -u; command -v gcc || echo none"
    )
    assert ran.stdout.split() == [IMAGE_USER, "none"]


def test_serve_answers_a_prediction_and_stops_cleanly(image: str, workspace: Path) -> None:
    port = free_port()
    with container(image, workspace, port, 8080, "serve", "churn@production") as name:
        assert "/health/ready answered 200" in wait_until_healthy(name)
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/models/churn/predict",
            json={"records": [{"a": 1.0, "b": 0.5, "c": -1.0}]},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == [1]
        engine("stop", "--time", "40", name, timeout=60)
        state = engine("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
        logs = engine("logs", name)
        assert state in ("0", "143"), logs.stderr  # drained, then SIGTERM re-raised (143) or not (0)
        assert "Application shutdown complete" in logs.stdout + logs.stderr
    # The prediction reached the log on the volume before the process ended.
    assert list((workspace / "logs" / "predictions").rglob("*.parquet")), "no prediction was logged"


def test_server_is_the_control_plane_with_auth_on(image: str, workspace: Path) -> None:
    port = free_port()
    with container(image, workspace, port, 5000, "server") as name:
        assert "/health answered 200" in wait_until_healthy(name)
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/models", timeout=30).status_code == 401


def test_scheduler_runs_what_is_due(image: str, workspace: Path) -> None:
    ran = engine(
        "run", "--rm", *OPTIONS, "--read-only", "--tmpfs", "/tmp",
        "--volume", f"{workspace}:/var/lib/shipyard", image, "scheduler", "--once",
    )  # fmt: skip
    assert "ran 0 occurrence(s)" in ran.stdout + ran.stderr


def test_the_documented_workflow_runs_inside_the_image(image: str, workspace: Path) -> None:
    """docs/deploy.md trains and promotes the example inside a pod: the same commands, in the image."""
    script = (
        "shipyard example fraud /tmp/fraud && shipyard train /tmp/fraud/spec.toml"
        " && shipyard promote fraud/1 --to production && shipyard models list"
    )
    ran = engine(
        "run", "--rm", *OPTIONS, "--read-only", "--tmpfs", "/tmp",
        "--volume", f"{workspace}:/var/lib/shipyard", "--entrypoint", "sh", image, "-c", script,
        timeout=600, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "fraud" in ran.stdout and "production" in ran.stdout
