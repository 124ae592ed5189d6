"""A version whose artifact is missing or corrupt is never served, by a real ``shipyard serve`` on 127.0.0.1.

When the alias moves to such a version the server keeps the one it serves and ``/health/ready`` names the
version and what is wrong with it; a server started with nothing it can load is up but not ready, and says
why. Either way it tries again after a back-off (not on every refresh: each try re-hashes the artifact and
logs), and serves the version as soon as its artifact is restored, without a restart.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from shipyard import Registry
from shipyard.serving.engine import LOAD_RETRY_SECONDS
from tests.serving.conftest import Server, start_server, stop_server

pytestmark = pytest.mark.slow

ROW = {"amount": 42.0, "channel": "web", "hour": 3}
PREDICT = "/v1/models/fraud/predict"
DAMAGES = ["missing", "corrupt"]
#: What ``/health/ready`` says about each damage.
SAYS = {"missing": "is missing from file://", "corrupt": "is corrupted: its bytes hash to"}


@pytest.fixture(scope="module")
def template(workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The serving fixtures' workspace (fraud/1 trained, behind fraud@production) with fraud/2 beside it."""
    home = tmp_path_factory.mktemp("unservable") / "ws"
    shutil.copytree(workspace, home)
    with Registry(home=home) as registry:
        model = registry.load_model("fraud/1").native
        model.shipyard_variant = 2  # other bytes than version 1's: an artifact object of its own
        registry.register("fraud", model, description="to be damaged")
    return home


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ws"
    shutil.copytree(template, copy)
    return copy


def damage(home: Path, ref: str, how: str) -> Callable[[], None]:
    """Delete or corrupt the artifact of ``ref``; return what restores it (as a backup would)."""
    with Registry(home=home) as registry:
        stored = Path(registry.artifacts.object_path(registry.resolve(ref).artifact_sha256))
    original = stored.read_bytes()
    if how == "missing":
        stored.unlink()
    else:
        damaged = bytearray(original)
        damaged[len(damaged) // 2] ^= 0xFF  # one flipped byte, the size unchanged
        stored.write_bytes(bytes(damaged))
    return lambda: stored.write_bytes(original)


def start_unready(home: Path, references: list[str]) -> Server:
    """``shipyard serve`` as the fixtures start it, but waited for until it is live, not ready: it will not
    be ready by itself."""
    return start_server(home, references, "--no-monitor", "--no-rollouts", workers=1, up_when="/health/live")


def wait_for(condition: Callable[[], object], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {seconds:g} s")


def readiness(client: httpx.Client) -> tuple[int, dict[str, object]]:
    answer = client.get("/health/ready")
    return answer.status_code, answer.json()


def fraud(payload: dict[str, object]) -> dict[str, object]:
    models = payload["models"]
    assert isinstance(models, dict)
    return dict(models["fraud"])


def load_failures(server: Server, ref: str) -> int:
    return server.log_text().count(f"{ref} failed to load or warm")


@pytest.mark.parametrize("how", DAMAGES)
def test_an_alias_moved_to_a_damaged_version_leaves_the_old_one_serving_and_ready_says_why(
    home: Path, how: str
) -> None:
    restore = damage(home, "fraud/2", how)
    server = start_server(home, ["fraud@production"], "--no-monitor", "--no-rollouts", workers=1)
    try:
        with Registry(home=home) as registry:
            registry.set_alias("fraud", "production", 2, reason="a damaged release")
        with server.client() as client:
            wait_for(lambda: fraud(readiness(client)[1])["error"], 15, "the load error on /health/ready")
            status, payload = readiness(client)
            answers = [client.post(PREDICT, json={"records": [ROW]}) for _ in range(5)]
            time.sleep(3.0)  # three refreshes: the broken version is not tried (and logged) on each
            tries = load_failures(server, "fraud/2")
            restore()
            wait_for(
                lambda: fraud(readiness(client)[1])["version"] == 2,
                LOAD_RETRY_SECONDS + 20,
                "serving fraud/2 once its artifact is back",
            )
            after = readiness(client)
            served = client.post(PREDICT, json={"records": [ROW]})
    finally:
        stop_server(server)
    assert status == 200 and payload["ready"] is True  # the old version serves, so the server stays ready
    model = fraud(payload)
    assert model["version"] == 1
    assert isinstance(model["error"], str) and model["error"].startswith("fraud/2 failed to load or warm: ")
    assert SAYS[how] in model["error"] and "fraud/2" in model["error"].split(": ", 1)[1]
    assert {answer.status_code for answer in answers} == {200}
    assert {answer.json()["version"] for answer in answers} == {1}
    assert tries == 1, f"fraud/2 was tried {tries} times in 3 s; the back-off is {LOAD_RETRY_SECONDS:g} s"
    healthy = {"version": 2, "error": None, "rollout": None}
    assert after == (200, {"ready": True, "models": {"fraud": healthy}})
    assert served.status_code == 200 and served.json()["version"] == 2


@pytest.mark.parametrize("how", DAMAGES)
def test_a_server_with_nothing_loadable_starts_not_ready_and_says_why(home: Path, how: str) -> None:
    restore = damage(home, "fraud/1", how)
    server = start_unready(home, ["fraud@production"])
    try:
        with server.client() as client:
            status, payload = readiness(client)
            probes = {path: client.get(path).status_code for path in ("/v2/health/ready", "/ping")}
            refused = client.post(PREDICT, json={"records": [ROW]})
            restore()
            wait_for(lambda: readiness(client)[0] == 200, LOAD_RETRY_SECONDS + 20, "readiness, artifact back")
            served = client.post(PREDICT, json={"records": [ROW]})
    finally:
        stop_server(server)
    assert status == 503 and payload["ready"] is False
    model = fraud(payload)
    assert model["version"] is None
    assert isinstance(model["error"], str) and model["error"].startswith("fraud/1 failed to load or warm: ")
    assert SAYS[how] in model["error"]
    assert probes == {"/v2/health/ready": 503, "/ping": 503}
    assert refused.status_code != 200 and "fraud/1 failed to load or warm" in refused.json()["error"]
    assert served.status_code == 200 and served.json()["version"] == 1
    assert "nothing is served" in server.log_text()
