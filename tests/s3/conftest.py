"""A real S3-compatible server (SeaweedFS) on 127.0.0.1 for the storage tests, and workspaces that use it.

One server per test session (per xdist worker), started on free ports with one bucket, and killed at the
end. Each test gets its own prefix in that bucket, so tests never see each other's objects.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tools.seaweedfs import ACCESS_KEY, REGION, SECRET_KEY, SeaweedFS, start

from shipyard.store.s3_filesystem import S3Storage

BUCKET = "shipyard-tests"
_AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_PROFILE",
)


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """SeaweedFS with the bucket ``shipyard-tests``; fails (never skips) with its log if it cannot start."""
    server = start(tmp_path_factory.mktemp("seaweedfs"), (BUCKET,))
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.directory / "data", ignore_errors=True)  # hundreds of MB; the log stays


@pytest.fixture
def no_aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never see the developer's AWS variables: each test says where its credentials come from."""
    for name in _AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # fsspec reuses a filesystem per options; credentials read from the environment are not among them
    S3Storage.clear_instance_cache()
    yield
    S3Storage.clear_instance_cache()


@pytest.fixture
def prefix() -> str:
    """This test's own folder in the bucket."""
    return f"{BUCKET}/{uuid.uuid4().hex[:12]}"


@pytest.fixture
def s3_home(
    tmp_path: Path,
    seaweedfs: SeaweedFS,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    no_aws_environment: None,
) -> Path:
    """A workspace whose artifacts and prediction log are in the bucket, set by SHIPYARD_* variables."""
    for name, value in s3_variables(seaweedfs).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SHIPYARD_ARTIFACTS_URL", f"s3://{prefix}/artifacts")
    monkeypatch.setenv("SHIPYARD_LOG_URL", f"s3://{prefix}/logs")
    return tmp_path / "ws"


def s3_variables(server: SeaweedFS, *, secret: str = SECRET_KEY) -> dict[str, str]:
    """The SHIPYARD_S3_* variables that reach ``server``."""
    return {
        "SHIPYARD_S3_ENDPOINT_URL": server.endpoint_url,
        "SHIPYARD_S3_REGION": REGION,
        "SHIPYARD_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "SHIPYARD_S3_SECRET_ACCESS_KEY": secret,
    }
