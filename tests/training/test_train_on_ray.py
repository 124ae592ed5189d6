"""Training on Ray: the fit runs as a task of a real local Ray, and the version registered is the one a
local training of the same spec and seed registers, with where it ran recorded beside it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shipyard import Registry
from shipyard.cli import main
from shipyard.errors import InvalidInput
from shipyard.training import train
from tests.models import transactions
from tests.retraining.workspace import SPEC, spec_toml

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]  # one worker runs every Ray test


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One small local Ray for the module (starting one costs seconds); train() uses the Ray this process
    is attached to rather than starting its own."""
    import ray

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture
def tx_registry(tmp_path: Path) -> Iterator[Registry]:
    with Registry(home=tmp_path / "ws") as registry:
        registry.datasets.add("history", transactions())
        yield registry


def spec(**params: Any) -> dict[str, Any]:
    return {**SPEC, "estimator": {**SPEC["estimator"], "params": {**SPEC["estimator"]["params"], **params}}}


def test_a_spec_trained_on_ray_registers_what_local_training_registers(
    local_ray: None, tx_registry: Registry
) -> None:
    here = train(spec(), registry=tx_registry, progress=False)
    there = train(spec(), registry=tx_registry, progress=False, on="ray")
    assert here.version is not None and there.version is not None
    assert there.version.metrics == here.version.metrics
    assert [fold.metrics for fold in there.report.folds] == [fold.metrics for fold in here.report.folds]
    assert (here.ran_on["engine"], here.ran_on["pid"]) == ("local", os.getpid())
    ran_on = there.ran_on
    assert ran_on["engine"] == "ray" and ran_on["pid"] != os.getpid()
    assert ran_on["host"] and ran_on["task"] and ran_on["node"]
    recorded = tx_registry.resolve(there.version.ref).training or {}
    assert recorded["ran_on"] == ran_on  # what a user sees in the version's metadata


def test_a_bad_estimator_param_fails_on_ray_as_it_fails_here(local_ray: None, tx_registry: Registry) -> None:
    with pytest.raises(ValueError) as here:
        train(spec(C=-1.0), registry=tx_registry, progress=False)
    with pytest.raises(ValueError) as there:
        train(spec(C=-1.0), registry=tx_registry, progress=False, on="ray")
    assert type(there.value) is type(here.value)
    assert str(there.value) == str(here.value) and "'C' parameter" in str(here.value)
    assert tx_registry.list_models() == []  # nothing registered


def test_shipyard_train_on_ray_says_where_it_fitted(
    local_ray: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("COLUMNS", "200")
    transactions().to_csv(tmp_path / "history.csv", index=False)
    data = {**SPEC["data"], "path": str(tmp_path / "history.csv")}
    del data["dataset"]
    (tmp_path / "spec.toml").write_text(spec_toml({**SPEC, "data": data}), encoding="utf-8")
    assert main(["train", str(tmp_path / "spec.toml"), "--on", "ray"]) == 0
    out = capsys.readouterr().out
    assert "registered fraud/1" in out and "fitted on Ray: host" in out
    # --engine, as score names it, is the same option
    assert main(["train", str(tmp_path / "spec.toml"), "--engine", "ray", "--no-register", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["ran_on"]["engine"] == "ray" and shown["ran_on"]["pid"] != os.getpid()
    assert main(["train", str(tmp_path / "spec.toml"), "--on", "moon"]) == InvalidInput.exit_code
    assert "cannot train on 'moon'; choose 'local' or 'ray'" in capsys.readouterr().err
