"""``shipyard serve`` follows rollouts from the database: a started canary splits live traffic across every
worker process, and an abort sends all of it back to stable, with no failed request on the way."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shipyard import Registry, rollouts
from shipyard.gates import promote
from shipyard.training import train
from tests.models import transactions
from tests.serving.conftest import Server, fraud_spec, start_server, stop_server

pytestmark = pytest.mark.slow

ROW = {"records": [{"amount": 42.0, "channel": "web", "hour": 3}]}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("rollout-followed") / "ws"
    with Registry(home=home) as registry:
        registry.datasets.add("tx", transactions(rows=400))
        train(fraud_spec(), registry=registry, progress=False)
        promote(registry, "fraud/1", "production")
        train(fraud_spec(C=0.3), registry=registry, progress=False)
    return home


@pytest.fixture(scope="module")
def server(workspace: Path) -> Iterator[Server]:
    running = start_server(workspace, ["fraud@production"], "--no-rollouts", "--no-monitor", workers=2)
    yield running
    stop_server(running)


class Traffic:
    """Requests sent without pause from a thread; every answer's status and arm, in order, and the version
    that answered each."""

    def __init__(self, url: str) -> None:
        self.answers: list[tuple[int, str]] = []
        self.versions: list[int | None] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self._thread.start()

    def _run(self, url: str) -> None:
        with httpx.Client(base_url=url, timeout=30.0) as client:
            while not self._stop.is_set():
                answer = client.post("/v1/models/fraud/predict", json=ROW)
                version = answer.json().get("version") if answer.status_code == 200 else None
                self.versions.append(version)
                self.answers.append((answer.status_code, answer.headers.get("x-shipyard-arm", "")))

    def wait_for(self, condition: str, arms: set[str], *, within: float = 30.0) -> None:
        """Wait until the last 40 answers' arms are exactly ``arms``."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            recent = {arm for _, arm in self.answers[-40:]}
            if len(self.answers) >= 40 and recent == arms:
                return
            time.sleep(0.05)
        raise AssertionError(f"{condition}: the last arms were {Counter(a for _, a in self.answers[-40:])}")

    def stop(self) -> list[tuple[int, str]]:
        self._stop.set()
        self._thread.join(timeout=30)
        return self.answers


def test_a_canary_splits_every_worker_and_an_abort_returns_all_traffic_to_stable(
    workspace: Path, server: Server
) -> None:
    traffic = Traffic(server.url)
    try:
        traffic.wait_for("before the rollout", {"stable"})
        with Registry(home=workspace) as registry:
            rollouts.start(registry, {"model": "fraud", "to": 2, "steps": [50, 100], "interval": "1h"})
        traffic.wait_for("during the canary", {"stable", "canary"})
        with Registry(home=workspace) as registry:
            rollouts.abort(registry, "fraud", reason="test: the candidate is worse")
        traffic.wait_for("after the abort", {"stable"})
    finally:
        answers = traffic.stop()
    assert Counter(status for status, _ in answers) == {200: len(answers)}  # no request failed on the way
    fraud = httpx.get(f"{server.url}/health/ready", timeout=10).json()["models"]["fraud"]
    assert fraud["version"] == 1 and fraud["rollout"] is None  # the alias never moved; no split is left
