"""``RemoteRegistry`` against a real control plane: the same records as the local registry, a model
registered from this machine with this machine's lineage, and the server's errors as shipyard's own."""

from __future__ import annotations

import pytest

from shipyard import Registry
from shipyard.client import RemoteRegistry, open_remote
from shipyard.errors import ConfigurationError, Forbidden, InvalidInput, NotFound, Unavailable
from shipyard.registry import VersionMetadata
from tests.control.conftest import ControlPlane
from tests.models import classification_frame, tiny_classifier
from tests.serving.conftest import free_port


def test_reads_give_the_records_the_local_registry_gives(control: ControlPlane) -> None:
    remote = RemoteRegistry(control.url, control.tokens["viewer"])
    with remote, Registry(home=control.home) as local:
        assert remote.resolve("fraud/2") == local.resolve("fraud/2")
        assert remote.resolve("fraud@production") == local.resolve("fraud@production")
        assert remote.list_versions("fraud") == local.list_versions("fraud")
        assert remote.get_model("fraud").name == "fraud"
        assert remote.alias_history("fraud", "production") == local.alias_history("fraud", "production")
        assert remote.audit(model="fraud", limit=5) == local.audit(model="fraud", limit=5)
        with pytest.raises(NotFound, match="did you mean 'fraud'"):
            remote.resolve("frud@production")
        with pytest.raises(Forbidden, match="needs the operator role"):
            remote.rollback("fraud@production")


def test_a_model_registered_remotely_carries_this_machines_lineage(control: ControlPlane) -> None:
    frame, _ = classification_frame()
    with RemoteRegistry(control.url, control.tokens["operator"]) as remote:
        version = remote.register(
            "remote-fraud",
            tiny_classifier(7),
            description="from a laptop",
            metadata=VersionMetadata(metrics={"auc": 0.9}, tags={"team": "risk"}, seed=7),
            reference=frame,
            reason="first upload",
        )
        assert (version.model, version.flavor, version.metrics) == ("remote-fraud", "sklearn", {"auc": 0.9})
        assert version.lineage["registered_by"] == "operator-user" and version.lineage["seed"] == 7
        assert version.input_schema is not None and version.profile is not None  # from the reference rows
        with pytest.raises(InvalidInput, match="register needs exactly one of"):
            remote.register("remote-fraud")
    with Registry(home=control.home) as local:
        stored = local.resolve("remote-fraud/1")
        assert stored == version
        loaded = local.load_model("remote-fraud/1")
        assert (loaded.predict(frame) == tiny_classifier(7).predict(frame)).all()


def test_a_viewer_cannot_register_and_a_missing_server_is_named(control: ControlPlane) -> None:
    viewer = RemoteRegistry(control.url, control.tokens["viewer"])
    with viewer, pytest.raises(Forbidden, match="registering a version needs the operator role"):
        viewer.register("nope", tiny_classifier())
    port = free_port()
    nowhere = RemoteRegistry(f"http://127.0.0.1:{port}", "shy_x_y")
    with (
        nowhere,
        pytest.raises(Unavailable, match=f"cannot reach the shipyard server at http://127.0.0.1:{port}"),
    ):
        nowhere.list_models()


def test_open_remote_reads_the_environment(control: ControlPlane, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHIPYARD_URL", raising=False)
    with pytest.raises(ConfigurationError, match="SHIPYARD_URL"):
        open_remote()
    monkeypatch.setenv("SHIPYARD_URL", control.url)
    monkeypatch.setenv("SHIPYARD_TOKEN", control.tokens["viewer"])
    with open_remote() as remote:
        assert "fraud" in {model.name for model in remote.list_models()}
