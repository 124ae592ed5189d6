"""A retraining policy whose ``training`` table says ``on = "ray"`` fits its challenger as a task of a Ray
cluster (a real local Ray, started for the run and stopped after) and records where in the run's train step;
the table is checked like the rest of the policy, and a cluster that cannot be reached fails the run at
its train step, naming the address (the policy's, or the workspace's ``ray_address`` setting)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from shipyard import Registry
from shipyard.config import load_settings
from shipyard.errors import InvalidInput
from shipyard.retraining import load_policy, policy_from_dict
from shipyard.retraining.service import run_retraining
from tests.retraining.workspace import NOW, champion_workspace

POLICY = """
[retraining.fraud]
spec = "spec.toml"
window = "30d"
data = { source = "dataset", name = "fresh", time_column = "ts" }
then = "register"
guards = { min_rows = 100, cooldown = "0s" }
training = { on = "ray"ADDRESS }
"""


def workspace(tmp_path: Path, address: str = "") -> Path:
    policy = POLICY.replace("ADDRESS", f", address = {address!r}" if address else "")
    return champion_workspace(tmp_path / "ws", policy, now=NOW)


@pytest.mark.slow
@pytest.mark.xdist_group("ray")  # one worker runs every Ray test
def test_a_run_fits_its_challenger_on_ray_and_records_where(tmp_path: Path) -> None:
    import ray

    home = workspace(tmp_path)
    with Registry(home=home) as registry:
        policy = load_policy(registry.settings, "fraud")
        assert (policy.training.on, policy.training.address) == ("ray", "")
        run = run_retraining(registry, policy, now=NOW)
        assert run.state == "succeeded", run.reason
        ran_on = run.details["ran_on"]
        assert ran_on["engine"] == "ray" and ran_on["pid"] != os.getpid() and ran_on["host"]
        assert run.details["candidate"] == "fraud/2"
        assert (registry.resolve("fraud/2").training or {})["ran_on"] == ran_on
    assert not ray.is_initialized()  # the local Ray started for the run is stopped after it


@pytest.mark.parametrize("given_in", ["policy", "settings"])
def test_a_ray_that_cannot_be_reached_fails_the_run_at_its_train_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given_in: str
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    if given_in == "settings":  # no address in the policy: the workspace's ray_address setting
        monkeypatch.setenv("SHIPYARD_RAY_ADDRESS", address)
    home = workspace(tmp_path, address if given_in == "policy" else "")
    with Registry(home=home) as registry:
        run = run_retraining(registry, load_policy(registry.settings, "fraud"), now=NOW)
        assert (run.state, run.step) == ("failed", "train")
        assert f"train failed: cannot reach the Ray cluster at {address!r}" in run.reason
        assert [version.version for version in registry.list_versions("fraud")] == [1]


def test_the_training_table_names_the_closest_key_of_a_typo(tmp_path: Path) -> None:
    section = {"spec": "spec.toml", "data": {"source": "log"}}
    with pytest.raises(InvalidInput, match=r"training\.adress: unknown key; did you mean 'address'\?"):
        policy_from_dict("fraud", {**section, "training": {"on": "ray", "adress": "ray://head:10001"}})
    with pytest.raises(InvalidInput, match=r"training\.on: Input should be 'local' or 'ray'"):
        policy_from_dict("fraud", {**section, "training": {"on": "spark"}})
    with pytest.raises(InvalidInput, match='a Ray address is given but on = "local"; set on = "ray"'):
        policy_from_dict("fraud", {**section, "training": {"address": "ray://head:10001"}})
    assert policy_from_dict("fraud", section).training.on == "local"
    home = tmp_path / "bare"
    home.mkdir()
    (home / "shipyard.toml").write_text(
        '[retraining.fraud]\nspec = "spec.toml"\ndata = { source = "log" }\n'
        'training = { on = "ray", address = "ray://head:10001" }\n',
        encoding="utf-8",
    )
    assert load_policy(load_settings(home), "fraud").training.address == "ray://head:10001"
