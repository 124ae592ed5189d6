"""A real control plane: ``shipyard server --auth`` in a subprocess on 127.0.0.1, over a workspace with a
model in production, and one user (with a token) per role."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from shipyard import Registry
from shipyard.access import AccessService, Role
from shipyard.training import train
from tests.models import transactions
from tests.serving.conftest import fraud_spec, free_port


@dataclass
class ControlPlane:
    url: str
    home: Path
    process: subprocess.Popen[bytes]
    tokens: dict[str, str] = field(default_factory=dict)  # role label → its user's token

    def client(self, role: str | None = None) -> httpx.Client:
        headers = {"authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0)


def start_control_plane(home: Path, *extra: str) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    log = open(home / f"control-{port}.log", "wb")  # noqa: SIM115 - the process writes it until stopped
    process = subprocess.Popen(
        [sys.executable, "-m", "shipyard", "server", "--port", str(port), *extra],
        env={**os.environ, "SHIPYARD_HOME": str(home)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"shipyard server exited: {(home / log.name).read_text(errors='replace')}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return url, process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("shipyard server did not answer /health within 60 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def fill_workspace(home: Path) -> None:
    """``fraud`` with three trained versions, production moved to v1 then v2."""
    with Registry(home=home, actor="tests") as registry:
        registry.datasets.add("tx", transactions(rows=300))
        for strength in (0.1, 1.0, 10.0):
            train(fraud_spec(C=strength, max_iter=300), registry=registry, progress=False)
        registry.set_alias("fraud", "production", 1, reason="first")
        registry.set_alias("fraud", "production", 2, reason="second")


def control_plane(home: Path) -> ControlPlane:
    """``fill_workspace`` at ``home``, a user with a token per role, and ``shipyard server --auth`` on it."""
    fill_workspace(home)
    tokens = {}
    with Registry(home=home, actor="tests") as registry:
        access = AccessService(registry.db, registry.actor)
        for role in (Role.VIEWER, Role.OPERATOR, Role.ADMIN):
            name = f"{role.label}-user"
            access.create_user(name, role, password=f"{name}-password")
            tokens[role.label] = access.issue_token(name, "tests").secret
    url, process = start_control_plane(home, "--auth")
    return ControlPlane(url, home, process, tokens)


@pytest.fixture(scope="session")
def control(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    running = control_plane(tmp_path_factory.mktemp("control") / "ws")
    yield running
    stop(running.process)
