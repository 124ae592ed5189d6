"""What a user sees when the object store fails: down, frozen, refusing the credentials, missing its bucket.

Each is one line naming the bucket and the endpoint, raised in seconds (bounded timeouts and retries), and
a refused secret is never printed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from sklearn.linear_model import LogisticRegression
from tools.seaweedfs import ACCESS_KEY, REGION, SECRET_KEY, SeaweedFS, start

from shipyard import Registry
from shipyard.cli import main
from shipyard.config import load_settings
from shipyard.errors import ConfigurationError, Unavailable
from shipyard.predictions import PredictionLog, SegmentStore
from shipyard.store.artifacts import ArtifactStore
from tests.s3.conftest import BUCKET, s3_variables

WRONG_SECRET = "not-the-secret-0123456789"


def _model() -> LogisticRegression:
    return LogisticRegression().fit([[0.0], [1.0]], [0, 1])


@pytest.fixture
def paused(seaweedfs: SeaweedFS) -> Iterator[SeaweedFS]:
    """The session's server frozen for one test: the kernel accepts connections, nothing answers."""
    seaweedfs.pause()
    try:
        yield seaweedfs
    finally:
        seaweedfs.resume()


def test_a_stopped_store_is_unavailable_naming_bucket_and_endpoint_in_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_aws_environment: None
) -> None:
    server = start(tmp_path / "doomed", ("doomed-bucket",))
    try:
        for name, value in s3_variables(server).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("SHIPYARD_ARTIFACTS_URL", "s3://doomed-bucket/artifacts")
        monkeypatch.setenv("SHIPYARD_LOG_URL", "s3://doomed-bucket/logs")
        home = tmp_path / "ws"
        with Registry(home=home) as registry:
            registry.register("churn", _model())
    finally:
        server.stop()
    for attempt in (
        lambda: Registry(home=home).load_model("churn/1"),
        lambda: PredictionLog(load_settings(home).log_url).scan("fraud"),
    ):
        started = time.monotonic()
        with pytest.raises(Unavailable) as raised:
            attempt()
        assert time.monotonic() - started < 15
        message = str(raised.value)
        assert "'doomed-bucket'" in message and server.endpoint_url in message, message
        assert "$SHIPYARD_S3_ENDPOINT_URL" in message and "\n" not in message


def test_a_frozen_store_is_given_up_on_after_its_timeouts(
    s3_home: Path, paused: SeaweedFS, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SHIPYARD_S3_CONNECT_TIMEOUT", "1")
    monkeypatch.setenv("SHIPYARD_S3_READ_TIMEOUT", "1")
    monkeypatch.setenv("SHIPYARD_S3_MAX_ATTEMPTS", "2")
    settings = load_settings(s3_home)
    (tmp_path / "model.bin").write_bytes(b"weights")
    store = SegmentStore(settings.log_url)
    for attempt in (
        lambda: ArtifactStore(settings.artifacts_url).put_file(tmp_path / "model.bin"),  # HEAD, then PUT
        # a PUT with a body: aiohttp alone would wait for the frozen server's "100 Continue" forever
        lambda: store.write(f"{store.base}/fraud/1/2026-12-01/00", "a.parquet", pa.table({"x": [1, 2]})),
    ):
        started = time.monotonic()
        with pytest.raises(Unavailable, match=f"bucket '{BUCKET}' at {paused.endpoint_url}"):
            attempt()
        assert time.monotonic() - started < 12  # 2 attempts of 1 + 1 s, and botocore's backoff


def test_a_store_that_freezes_after_listing_is_an_error_not_skipped_segments(
    s3_home: Path, seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_S3_READ_TIMEOUT", "1")
    monkeypatch.setenv("SHIPYARD_S3_MAX_ATTEMPTS", "1")
    store = SegmentStore(load_settings(s3_home).log_url)
    folder = f"{store.base}/fraud/1/2026-12-01/00"
    store.write(folder, "a.parquet", pa.table({"x": [1, 2]}))
    listed = store.segments("fraud", 1)  # listed while the store answers
    assert [segment.rows for segment in listed] == [2]
    seaweedfs.pause()
    try:
        with pytest.raises(Unavailable, match=f"bucket '{BUCKET}'"):
            store.read(listed[0])  # a skipped segment would read as a log with no rows
        with pytest.raises(Unavailable):
            list(store.row_groups(listed[0]))
    finally:
        seaweedfs.resume()


def test_wrong_credentials_from_the_settings_are_one_line_naming_them_without_the_secret(
    s3_home: Path, seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_S3_SECRET_ACCESS_KEY", WRONG_SECRET)
    with pytest.raises(ConfigurationError) as raised:
        Registry(home=s3_home).register("churn", _model())
    message = str(raised.value)
    assert f"bucket '{BUCKET}'" in message and seaweedfs.endpoint_url in message
    assert "from $SHIPYARD_S3_ACCESS_KEY_ID" in message
    assert WRONG_SECRET not in message and "\n" not in message


def test_wrong_credentials_from_the_aws_variables_name_those_variables(
    tmp_path: Path,
    seaweedfs: SeaweedFS,
    monkeypatch: pytest.MonkeyPatch,
    no_aws_environment: None,
    prefix: str,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", seaweedfs.endpoint_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", WRONG_SECRET)
    monkeypatch.setenv("SHIPYARD_ARTIFACTS_URL", f"s3://{prefix}/artifacts")
    with pytest.raises(ConfigurationError) as raised:
        Registry(home=tmp_path / "ws").register("churn", _model())
    message = str(raised.value)
    assert "$AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY" in message
    assert f"{seaweedfs.endpoint_url} ($AWS_ENDPOINT_URL)" in message and WRONG_SECRET not in message


def test_the_aws_variables_alone_reach_the_store(
    tmp_path: Path,
    seaweedfs: SeaweedFS,
    monkeypatch: pytest.MonkeyPatch,
    no_aws_environment: None,
    prefix: str,
) -> None:
    for name, value in seaweedfs.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SHIPYARD_ARTIFACTS_URL", f"s3://{prefix}/artifacts")
    with Registry(home=tmp_path / "ws") as registry:
        registry.register("churn", _model())
        assert registry.load_model("churn/1").predict([[1.0]]).tolist() == [1]


def test_the_cli_prints_refused_credentials_as_one_line_without_the_secret(
    s3_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHIPYARD_HOME", str(s3_home))
    monkeypatch.setenv("SHIPYARD_S3_SECRET_ACCESS_KEY", WRONG_SECRET)
    monkeypatch.setenv("COLUMNS", "400")
    assert main(["logs", "tail"]) == ConfigurationError.exit_code
    printed = capsys.readouterr()
    assert WRONG_SECRET not in printed.out + printed.err
    lines = printed.err.strip().splitlines()
    assert len(lines) == 1 and f"bucket '{BUCKET}'" in lines[0] and "$SHIPYARD_S3_ACCESS_KEY_ID" in lines[0]


def test_a_missing_bucket_is_named_with_what_to_do(
    s3_home: Path, seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_LOG_URL", "s3://no-such-bucket-here/logs")
    with pytest.raises(
        ConfigurationError, match=r"bucket 'no-such-bucket-here' at .* does not exist: create it"
    ):
        PredictionLog(load_settings(s3_home).log_url).scan("fraud")


def test_settings_secret_is_hidden_from_shipyard_config(s3_home: Path) -> None:
    shown = load_settings(s3_home).as_dict()
    assert shown["s3_secret_access_key"] == "(set)" and shown["s3_access_key_id"] == ACCESS_KEY
    assert SECRET_KEY not in repr(load_settings(s3_home))
