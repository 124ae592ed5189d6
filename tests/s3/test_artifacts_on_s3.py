"""Artifacts, models and datasets on a real S3-compatible server: multipart uploads that stream, hashes
checked on every read, and no half-written object ever visible under its key."""

from __future__ import annotations

import hashlib
import os
import pickle
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from shipyard import Registry
from shipyard.config import load_settings
from shipyard.errors import IntegrityError
from shipyard.store.artifacts import ArtifactInfo, ArtifactStore
from shipyard.store.object_stores import PART_SIZE
from tests.models import transactions

MB = 1 << 20


def _random_file(path: Path, megabytes: int) -> Path:
    rng = np.random.default_rng(megabytes)
    with open(path, "wb") as target:
        for _ in range(megabytes):
            target.write(rng.bytes(MB))
    return path


def _store(home: Path) -> ArtifactStore:
    return ArtifactStore(load_settings(home).artifacts_url)


def _pending_uploads(store: ArtifactStore) -> list[str]:
    bucket, _, prefix = store.root.partition("/")
    answer = store.fs.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=prefix)
    return [upload["Key"] for upload in answer.get("Uploads", [])]


def test_a_model_registered_on_s3_loads_back_by_alias_and_predicts_the_same(s3_home: Path) -> None:
    x, y = np.random.default_rng(0).normal(size=(200, 4)), np.arange(200) % 2
    model = LogisticRegression().fit(x, y)
    with Registry(home=s3_home) as registry:
        version = registry.register("churn", model)
        registry.set_alias("churn", "production", version.version)
        loaded = registry.load_model("churn@production")
        stored = registry.artifacts.fs.find(registry.artifacts.root)
    np.testing.assert_array_equal(np.asarray(loaded.predict(pd.DataFrame(x))), model.predict(x))
    assert stored == [registry.artifacts.object_path(version.artifact_sha256)]


def test_a_dataset_version_on_s3_reads_back_identical(s3_home: Path) -> None:
    table = transactions(rows=300)
    with Registry(home=s3_home) as registry:
        added = registry.datasets.add("tx", table)
        again = registry.datasets.add("tx", table)
        read = registry.datasets.load("tx/1")
    assert (added.version, again.created) == (1, False)
    pd.testing.assert_frame_equal(
        read.reset_index(drop=True), table.reset_index(drop=True), check_dtype=False
    )


def test_a_100_mb_artifact_goes_up_in_parts_and_is_streamed_both_ways(s3_home: Path, tmp_path: Path) -> None:
    source = _random_file(tmp_path / "model.bin", 100)
    store = _store(s3_home)
    tracemalloc.start()
    try:
        info = store.put_file(source)
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        store.fetch(info, tmp_path / "back.bin", owner="model/1")
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    etag = store.fs.info(store.object_path(info.sha256))["ETag"].strip('"')
    assert etag.endswith(f"-{-(-100 * MB // PART_SIZE)}")  # a multipart upload of PART_SIZE parts
    assert upload_peak < 50 * MB and download_peak < 50 * MB, (upload_peak, download_peak)
    assert hashlib.sha256((tmp_path / "back.bin").read_bytes()).hexdigest() == info.sha256
    assert info.size == 100 * MB


def test_a_changed_object_is_refused_on_load_naming_the_version(s3_home: Path) -> None:
    with Registry(home=s3_home) as registry:
        version = registry.register("churn", LogisticRegression().fit([[0.0], [1.0]], [0, 1]))
        key = registry.artifacts.object_path(version.artifact_sha256)
        original = registry.artifacts.fs.cat_file(key)
        registry.artifacts.fs.pipe_file(key, original[:-1] + bytes([original[-1] ^ 1]))
        with pytest.raises(IntegrityError, match=r"artifact of churn/1 is corrupted"):
            registry.load_model("churn/1")
        registry.artifacts.fs.rm(key)
        with pytest.raises(IntegrityError, match=r"churn/1 .* is missing from s3://"):
            registry.load_model("churn/1")


def test_a_write_that_fails_midway_leaves_nothing_under_its_key(s3_home: Path) -> None:
    store = _store(s3_home)
    key = f"{store.root}/objects/half-written"
    with pytest.raises(RuntimeError, match="disk gone"), store.fs.open(key, "wb") as target:
        for _ in range(3 * PART_SIZE // MB):  # two parts are uploaded before the failure
            target.write(os.urandom(MB))
        assert _pending_uploads(store) == [key.partition("/")[2]]
        raise RuntimeError("disk gone")
    store.fs.invalidate_cache()
    assert not store.fs.exists(key)
    assert store.fs.find(store.root) == []
    assert _pending_uploads(store) == []  # aborted, not left to linger


def test_a_file_that_changed_since_it_was_hashed_is_not_stored(s3_home: Path, tmp_path: Path) -> None:
    source = _random_file(tmp_path / "model.bin", 20)
    store = _store(s3_home)
    stale = ArtifactInfo(hashlib.sha256(b"what the file held when hashed").hexdigest(), 20 * MB)
    with pytest.raises(IntegrityError, match="changed while it was being stored"):
        store._upload(source, stale)
    store.fs.invalidate_cache()
    assert store.fs.find(store.root) == [] and _pending_uploads(store) == []


def test_a_registration_killed_midway_leaves_no_object_behind(s3_home: Path, tmp_path: Path) -> None:
    source = _random_file(tmp_path / "model.bin", 100)
    store = _store(s3_home)
    script = (
        "import sys; from pathlib import Path; from shipyard.config import load_settings; "
        "from shipyard.store.artifacts import ArtifactStore; "
        "ArtifactStore(load_settings(sys.argv[1]).artifacts_url).put_file(Path(sys.argv[2]))"
    )
    child = subprocess.Popen([sys.executable, "-c", script, str(s3_home), str(source)])
    try:
        deadline = time.monotonic() + 60
        while not _pending_uploads(store):  # the upload is under way
            assert child.poll() is None and time.monotonic() < deadline, "the upload never started"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    store.fs.invalidate_cache()
    assert store.fs.find(store.root) == []  # the parts exist, but no object does until it is completed


def test_an_artifact_store_on_s3_pickles_into_a_worker_and_reads_there(s3_home: Path, tmp_path: Path) -> None:
    store = _store(s3_home)
    info = store.put_file(_random_file(tmp_path / "model.bin", 1))
    copied = pickle.loads(pickle.dumps(store))  # as a batch or Ray worker receives it
    copied.fetch(info, tmp_path / "back.bin", owner="model/1")
    assert (tmp_path / "back.bin").read_bytes() == (tmp_path / "model.bin").read_bytes()
