"""Content-addressed artifact storage."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from shipyard import IntegrityError
from shipyard.errors import ConfigurationError, MissingDependency
from shipyard.store.artifacts import ArtifactInfo, ArtifactStore


def test_put_stores_bytes_under_their_hash_and_fetch_verifies(tmp_path: Path) -> None:
    store = ArtifactStore(f"file://{tmp_path / 'store'}")
    source = tmp_path / "model.bin"
    source.write_bytes(b"x" * 3_000_000)
    info = store.put_file(source)
    assert info == ArtifactInfo(hashlib.sha256(source.read_bytes()).hexdigest(), 3_000_000)
    copy = store.fetch(info, tmp_path / "copy.bin", owner="fraud/1")
    assert copy.read_bytes() == source.read_bytes()
    assert not any((tmp_path / "store" / "tmp").iterdir()), "no temporary files are left behind"


def test_plain_path_is_accepted_as_a_local_store(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "plain"))
    source = tmp_path / "a"
    source.write_bytes(b"abc")
    assert store.exists(store.put_file(source).sha256)


def test_truncated_object_is_detected_and_the_partial_copy_removed(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "store"))
    source = tmp_path / "model.bin"
    source.write_bytes(b"0123456789")
    info = store.put_file(source)
    Path(store.object_path(info.sha256)).write_bytes(b"01234")
    target = tmp_path / "out.bin"
    with pytest.raises(IntegrityError, match="churn/4"):
        store.fetch(info, target, owner="churn/4")
    assert not target.exists()


def test_export_writes_a_verified_copy(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "store"))
    source = tmp_path / "m"
    source.write_bytes(b"model")
    info = store.put_file(source)
    out = store.copy_out(info, tmp_path / "exported" / "m.bin", owner="m/1")
    assert out.read_bytes() == b"model"


def test_unknown_scheme_is_a_clear_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        ArtifactStore("nosuchscheme://bucket/x")


def test_a_cloud_scheme_without_its_extra_names_the_extra() -> None:
    # The dev install has the s3 extra (its tests run against a real S3-compatible server); Google Cloud
    # Storage's driver stays out of it, so its message is the one a user without an extra meets.
    with pytest.raises(MissingDependency, match=r"shipyard\[gcs\]"):
        ArtifactStore("gs://bucket/prefix")
