"""Two servers as on two machines (two workspace folders, nothing local shared) over one team workspace: one
PostgreSQL database and one S3-compatible bucket. Both follow the alias, and both answer the promoted
version within 2 s of the promote."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from shipyard import Registry
from shipyard.training import train
from tests.conftest import drop_postgres_schema, new_postgres_schema
from tests.models import transactions
from tests.s3.conftest import SeaweedFS, s3_variables
from tests.serving.conftest import Server, fraud_spec, start_server, stop_server

pytestmark = pytest.mark.slow
ROW = {"amount": 42.0, "channel": "web", "hour": 3}


def _version(server: Server) -> int:
    response = httpx.post(f"{server.url}/v1/models/fraud/predict", json={"records": [ROW]}, timeout=10)
    assert response.status_code == 200, response.text
    return int(response.json()["version"])


def _seconds_until(server: Server, version: int, since: float, limit: float = 10.0) -> float:
    while time.monotonic() < since + limit:
        if _version(server) == version:
            return time.monotonic() - since
        time.sleep(0.05)
    raise AssertionError(f"{server.url} still answers another version {limit:g} s after the promote")


def test_two_servers_on_one_postgresql_and_s3_workspace_follow_a_promote_within_two_seconds(
    tmp_path: Path,
    seaweedfs: SeaweedFS,
    prefix: str,
    no_aws_environment: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, schema = new_postgres_schema()
    shared = {
        **s3_variables(seaweedfs),
        "SHIPYARD_REGISTRY_URL": url,
        "SHIPYARD_ARTIFACTS_URL": f"s3://{prefix}/artifacts",
        "SHIPYARD_LOG_URL": f"s3://{prefix}/logs",
    }
    for name, value in shared.items():
        monkeypatch.setenv(name, value)
    servers: list[Server] = []
    try:
        with Registry(home=tmp_path / "laptop") as registry:
            registry.datasets.add("tx", transactions(rows=600))
            train(fraud_spec(), registry=registry, progress=False)
            train(fraud_spec(C=0.5), registry=registry, progress=False)
            registry.set_alias("fraud", "production", 1)
        for machine in ("east", "west"):
            (tmp_path / machine).mkdir()
            servers.append(start_server(tmp_path / machine, ["fraud@production"], "--no-monitor", workers=1))
        assert [_version(server) for server in servers] == [1, 1]

        with Registry(home=tmp_path / "laptop") as registry:
            registry.set_alias("fraud", "production", 2, reason="promoted from another machine")
            promoted = time.monotonic()
        waits = [_seconds_until(server, 2, promoted) for server in servers]
        assert max(waits) < 2.0, waits
        assert [_version(server) for server in servers] == [2, 2]
        # Nothing but the shared services connects them: each folder holds only its own server's log.
        for machine in ("east", "west"):
            assert not list((tmp_path / machine).rglob("*.parquet"))
    finally:
        for server in servers:
            stop_server(server)
        drop_postgres_schema(schema)
