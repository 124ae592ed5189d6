"""What the deployment tests share: the repository's deploy files, a workspace with a served model, and the
entrypoint and health check run for real on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from shipyard.registry import Registry
from tests.models import classification_frame, tiny_classifier

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "deploy" / "docker"
ENTRYPOINT = DOCKER / "entrypoint.sh"
HEALTHCHECK = DOCKER / "healthcheck.py"
KUBERNETES = ROOT / "deploy" / "kubernetes"


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding ``churn@production``, a small classifier with its reference rows."""
    home = tmp_path_factory.mktemp("deploy") / "ws"
    frame, _ = classification_frame()
    with Registry(home=home, actor="tests") as registry:
        version = registry.register("churn", tiny_classifier(), reference=frame)
        registry.set_alias("churn", "production", version.version, reason="deploy tests")
    return home


@dataclass
class Role:
    """One role started through the image's entrypoint, as the container's process 1 would be."""

    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def entrypoint_environment(home: Path) -> dict[str, str]:
    """This machine's environment with the venv's ``shipyard`` first on PATH, as the image's PATH has it."""
    environment = {**os.environ, "SHIPYARD_HOME": str(home)}
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    for name in ("PROMETHEUS_MULTIPROC_DIR", "SHIPYARD_URL", "SHIPYARD_SERVE_TOKEN", "SHIPYARD_API_TOKEN"):
        environment.pop(name, None)
    return environment


def start_role(home: Path, *arguments: str, ready_url: str | None = None) -> Role:
    """``entrypoint.sh ARGUMENTS`` in the background; with ``ready_url``, wait until it answers 200."""
    log = home / f"entrypoint-{time.monotonic_ns()}.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            ["sh", str(ENTRYPOINT), *arguments],
            env=entrypoint_environment(home),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    role = Role(process, log)
    deadline = time.monotonic() + 120
    while ready_url is not None and time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the entrypoint exited early:\n{role.log_text()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(ready_url, timeout=1.0).status_code == 200:
                return role
        time.sleep(0.2)
    if ready_url is not None:
        stop_role(role)
        raise AssertionError(f"{ready_url} did not answer 200 within 120 s:\n{role.log_text()}")
    return role


def stop_role(role: Role) -> int:
    """SIGTERM, as a container runtime stops process 1; SIGKILL (with its children) after 30 s."""
    role.process.terminate()
    try:
        return role.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(role.process.pid).children(recursive=True):
                child.kill()
        role.process.kill()
        role.process.wait()
        raise AssertionError(f"the role did not stop within 30 s of SIGTERM:\n{role.log_text()}") from None


def run_healthcheck(pid: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), "--pid", str(pid)], capture_output=True, text=True, timeout=30
    )


@pytest.fixture
def started() -> Iterator[list[Role]]:
    """Roles a test starts, stopped at its end whatever happens."""
    roles: list[Role] = []
    yield roles
    for role in roles:
        if role.process.poll() is None:
            with contextlib.suppress(AssertionError):
                stop_role(role)
