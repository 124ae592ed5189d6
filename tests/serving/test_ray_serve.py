"""``shipyard serve --engine ray``: two Ray Serve replicas on one local Ray started by this module, behind
Ray's proxy, answering as ``shipyard serve``'s workers do (same protocols, same engine, same prediction log)
and following an alias move.

The server runs as a real ``shipyard serve`` subprocess attached to the module's Ray (as to a cluster), so
one Ray start serves every test. A replica is told apart by its request ids: their digits 12-20 are drawn
once per process (``shipyard.ids``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import psutil
import pytest

from shipyard import Registry
from shipyard.cli import main
from shipyard.config import load_settings
from shipyard.errors import InvalidInput
from shipyard.gates import promote
from shipyard.predictions import PredictionLog
from shipyard.training import train
from tests.models import transactions
from tests.serving.conftest import Server, fraud_spec, start_server, stop_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("ray"),  # one worker runs every Ray test: two Rays at once crowd two cores
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.serve._private.config"),  # Ray's, not ours
]
ROWS = [
    {"amount": 42.0, "channel": "web", "hour": 3},
    {"amount": 3.5, "channel": "pos", "hour": 14},
    {"amount": 900.0, "channel": "app", "hour": 23},
]
REPLICAS = 2
#: Enough requests that two replicas both answer unless the proxy sends everything to one.
MOST_REQUESTS = 200


@pytest.fixture(scope="module")
def local_ray() -> Iterator[str]:
    """One local Ray for the module (starting one costs seconds), with a core per replica; its address."""
    import ray
    from ray import serve

    ray.init(num_cpus=REPLICAS, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        serve.shutdown()  # the proxy and controller a server left running on this cluster
        ray.shutdown()


@pytest.fixture(scope="module")
def ray_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fraud/1 in production, fraud/2 trained beside it for the alias to move to."""
    home = tmp_path_factory.mktemp("ray-serve") / "ws"
    with Registry(home=home, actor="tests") as registry:
        registry.datasets.add("tx", transactions(rows=600))
        train(fraud_spec(), registry=registry, progress=False)
        train(fraud_spec(C=0.05), registry=registry, progress=False)
        promote(registry, "fraud/1", "production")
    return home


@pytest.fixture(scope="module")
def ray_server(local_ray: str, ray_workspace: Path) -> Iterator[Server]:
    environment = {
        "SHIPYARD_RAY_ADDRESS": local_ray,
        "RAY_AUTH_MODE": "token",  # the token the module's ray.init saved for this user
        # The longest interval between writes: what a replica holds when it stops, it writes then.
        "SHIPYARD_LOG_FLUSH_SECONDS": "60",
    }
    server = start_server(
        ray_workspace, ["fraud@production"], "--engine", "ray", workers=REPLICAS, environment=environment
    )
    yield server
    stop_server(server)


def replica_of(request_id: str) -> str:
    return request_id[12:20]


def answers_from_every_replica(client: httpx.Client) -> dict[str, dict[str, Any]]:
    """One native-protocol answer per replica, keyed by replica, asking until both have answered."""
    answers: dict[str, dict[str, Any]] = {}
    for _ in range(MOST_REQUESTS):
        response = client.post("/v1/models/fraud/predict", json={"records": ROWS})
        assert response.status_code == 200, response.text
        body = response.json()
        answers.setdefault(replica_of(body["request_id"]), body)
        if len(answers) == REPLICAS:
            return answers
    raise AssertionError(f"{MOST_REQUESTS} requests were all answered by {sorted(answers)}")


def test_an_unknown_engine_is_refused_naming_the_choices(
    ray_workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHIPYARD_HOME", str(ray_workspace))
    assert main(["serve", "fraud@production", "--engine", "nope"]) == InvalidInput.exit_code
    assert "cannot serve with the engine 'nope'; choose 'local' or 'ray'" in capsys.readouterr().err


def test_each_replica_answers_every_protocol_with_the_served_version(
    ray_server: Server, ray_workspace: Path
) -> None:
    with Registry(home=ray_workspace) as registry:
        served = registry.resolve("fraud@production")
        expected = registry.load_model(served.ref).predict(pd.DataFrame(ROWS)).tolist()
    columns = {"amount": "FP64", "channel": "BYTES", "hour": "INT64"}
    tensors = [
        {"name": name, "shape": [len(ROWS)], "datatype": kind, "data": [row[name] for row in ROWS]}
        for name, kind in columns.items()
    ]
    with ray_server.client() as client:
        answers = answers_from_every_replica(client)
        mlflow = client.post("/invocations", json={"dataframe_records": ROWS})
        oip = client.post("/v2/models/fraud/infer", json={"inputs": tensors})
        metrics = client.get("/metrics")
    assert f"with {REPLICAS} Ray Serve replica(s)" in ray_server.log_text()
    assert len(set(answers)) == REPLICAS
    for body in answers.values():
        assert (body["model"], body["version"], body["predictions"]) == ("fraud", served.version, expected)
    assert mlflow.status_code == 200 and mlflow.json() == {"predictions": expected}
    assert oip.status_code == 200 and oip.json()["model_version"] == str(served.version)
    assert oip.json()["outputs"][0]["data"] == expected
    assert metrics.status_code == 200 and "shipyard_requests_total" in metrics.text  # the answering replica's


def test_both_replicas_follow_an_alias_move(ray_server: Server, ray_workspace: Path) -> None:
    with Registry(home=ray_workspace) as registry:
        other = 2 if registry.resolve("fraud@production").version == 1 else 1
        registry.set_alias("fraud", "production", other, reason="both replicas must follow")
    moved_at = time.monotonic()
    following: dict[str, float] = {}
    with ray_server.client() as client:
        while len(following) < REPLICAS and time.monotonic() < moved_at + 30:
            body = client.post("/v1/models/fraud/predict", json={"records": ROWS}).json()
            if body["version"] == other:
                following.setdefault(replica_of(body["request_id"]), time.monotonic() - moved_at)
    assert len(following) == REPLICAS, f"within 30 s only {sorted(following)} answered with fraud/{other}"
    assert max(following.values()) < 5.0, following  # each replica polls the registry every second


def test_stopping_writes_the_predictions_of_every_replica_and_leaves_none_running(
    ray_server: Server, ray_workspace: Path
) -> None:
    """The last test of the module: it stops the server."""
    with ray_server.client() as client:
        answers = answers_from_every_replica(client)
    ids = {prediction for body in answers.values() for prediction in body["prediction_ids"]}
    stop_server(ray_server)
    assert ray_server.process.returncode == 0, ray_server.log_text()
    logged = PredictionLog(load_settings(ray_workspace).log_url).scan("fraud")
    assert logged is not None
    assert ids <= set(logged["prediction_id"].to_pylist())  # written by each replica as it stopped
    assert not _replicas_running(), "a replica outlived the server"


def _replicas_running() -> list[psutil.Process]:
    """Replica processes of the module's Ray (its processes descend from this one)."""
    return [
        child
        for child in psutil.Process().children(recursive=True)
        if "ServeReplica" in _name(child) and child.is_running()
    ]


def _name(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline()) or process.name()
    except psutil.Error:
        return ""
