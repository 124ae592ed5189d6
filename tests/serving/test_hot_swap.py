"""Hot swap under load: promote and roll back while requests flow; no request fails, every worker follows."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from shipyard import Registry
from shipyard.gates import promote
from shipyard.training import train
from tests.models import transactions
from tests.serving.conftest import fraud_spec, start_server, stop_server

pytestmark = pytest.mark.slow
ROW = {"amount": 42.0, "channel": "web", "hour": 3}


def test_alias_moves_switch_every_worker_without_a_failed_request(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    with Registry(home=home) as registry:
        registry.datasets.add("tx", transactions(rows=600))
        train(fraud_spec(), registry=registry, progress=False)
        promote(registry, "fraud/1", "production")
    server = start_server(home, ["fraud@production"], workers=2)
    statuses: Counter[int] = Counter()
    versions: list[tuple[float, int]] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=server.url, timeout=30.0) as client:
            while not stop.is_set():
                response = client.post("/v1/models/fraud/predict", json={"records": [ROW]})
                statuses[response.status_code] += 1
                if response.status_code == 200:
                    versions.append((time.monotonic(), response.json()["version"]))

    threads = [threading.Thread(target=load) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        with Registry(home=home) as registry:
            train(fraud_spec(C=0.5), registry=registry, progress=False)
            registry.set_alias("fraud", "production", 2, reason="swap under load")
            moved_at = time.monotonic()
        assert _wait_for_version(versions, 2, after=moved_at, seconds=5.0) < 3.0
        with Registry(home=home) as registry:
            registry.rollback("fraud@production", reason="roll back under load")
            rolled_at = time.monotonic()
        assert _wait_for_version(versions, 1, after=rolled_at, seconds=5.0) < 3.0
        time.sleep(max(0.0, rolled_at + 3.5 - time.monotonic()))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        stop_server(server)
    assert set(statuses) == {200}, statuses
    assert statuses[200] > 50
    late = [version for at, version in versions if at > rolled_at + 2.5]
    assert late and set(late) == {1}, "after the rollback every worker answers with version 1"


def _wait_for_version(
    versions: list[tuple[float, int]], wanted: int, *, after: float, seconds: float
) -> float:
    """Seconds from ``after`` until every response (from both workers) reports ``wanted``."""
    deadline = after + seconds
    while time.monotonic() < deadline:
        recent = [version for at, version in versions[-40:] if at > after]
        if len(recent) >= 20 and set(recent[-20:]) == {wanted}:
            first = next(at for at, version in versions if at > after and version == wanted)
            return first - after
        time.sleep(0.05)
    raise AssertionError(f"the server did not switch to version {wanted} within {seconds} s")
