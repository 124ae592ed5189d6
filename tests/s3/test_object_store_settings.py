"""The s3_* settings: read like every other setting, checked, carried by the storage URLs, and described in
messages by where they came from (no server needed)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from shipyard.config import StorageURL, load_settings
from shipyard.errors import ConfigurationError
from shipyard.store.filesystems import open_filesystem


def test_s3_settings_come_from_the_file_and_the_environment_with_their_sources(tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text(
        '[shipyard]\nartifacts_url = "s3://models/prod"\ns3_endpoint_url = "http://minio:9000"\n'
        's3_region = "eu-west-1"\n'
    )
    env = {"SHIPYARD_S3_ACCESS_KEY_ID": "AKIA1", "SHIPYARD_S3_SECRET_ACCESS_KEY": "s3cr3t"}
    settings = load_settings(tmp_path, environ=env)
    store = settings.object_store
    assert (store.endpoint_url, store.region) == ("http://minio:9000", "eu-west-1")
    assert store.access_key_id == "AKIA1"
    assert store.endpoint_source == f"s3_endpoint_url from {tmp_path / 'shipyard.toml'}"
    assert store.credentials_source == (
        "s3_access_key_id and s3_secret_access_key from $SHIPYARD_S3_ACCESS_KEY_ID"
    )
    assert settings.sources["s3_secret_access_key"] == "$SHIPYARD_S3_SECRET_ACCESS_KEY"
    assert isinstance(settings.artifacts_url, StorageURL) and settings.artifacts_url == "s3://models/prod"
    assert settings.artifacts_url.object_store == store and settings.log_url.object_store == store


@pytest.mark.parametrize(
    ("env", "endpoint", "credentials"),
    [
        ({}, "", ""),
        (
            {"AWS_ENDPOINT_URL": "http://s3.local", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"},
            "$AWS_ENDPOINT_URL",
            "$AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY",
        ),
        ({"AWS_ENDPOINT_URL_S3": "http://s3.local", "AWS_PROFILE": "ci"}, "$AWS_ENDPOINT_URL_S3", "'ci'"),
    ],
)
def test_messages_name_the_aws_variables_a_store_is_reached_by(
    tmp_path: Path, env: dict[str, str], endpoint: str, credentials: str
) -> None:
    store = load_settings(tmp_path, environ=env).object_store
    assert store.endpoint_source == endpoint
    assert credentials in store.credentials_source and (credentials or store.credentials_source == "")
    assert store.endpoint_url == "" and store.access_key_id == ""  # botocore reads the variables itself


def test_an_access_key_without_its_secret_is_refused_naming_both(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"s3_access_key_id is set .* s3_secret_access_key is not"):
        load_settings(tmp_path, environ={"SHIPYARD_S3_ACCESS_KEY_ID": "AKIA1"})
    with pytest.raises(ConfigurationError, match=r"s3_secret_access_key is set .* s3_access_key_id is not"):
        load_settings(tmp_path, environ={"SHIPYARD_S3_SECRET_ACCESS_KEY": "x"})


@pytest.mark.parametrize(
    ("name", "value"),
    [("S3_MAX_ATTEMPTS", "0"), ("S3_CONNECT_TIMEOUT", "-1"), ("S3_READ_TIMEOUT", "soon")],
)
def test_bad_timeouts_and_attempts_are_refused_naming_them(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name.lower()):
        load_settings(tmp_path, environ={f"SHIPYARD_{name}": value})


def test_a_storage_url_keeps_its_settings_through_pickling(tmp_path: Path) -> None:
    env = {"SHIPYARD_LOG_URL": "s3://logs/x", "SHIPYARD_S3_ENDPOINT_URL": "http://minio:9000"}
    url = load_settings(tmp_path, environ=env).log_url
    copied = pickle.loads(pickle.dumps(url))  # a batch plan goes to worker processes this way
    assert isinstance(copied, StorageURL) and copied == "s3://logs/x"
    assert copied.object_store.endpoint_url == "http://minio:9000"


def test_an_s3_url_opens_with_the_settings_it_carries(tmp_path: Path) -> None:
    env = {
        "SHIPYARD_S3_ENDPOINT_URL": "http://minio:9000",
        "SHIPYARD_S3_CONNECT_TIMEOUT": "2",
        "SHIPYARD_S3_MAX_ATTEMPTS": "4",
    }
    settings = load_settings(tmp_path, environ={**env, "SHIPYARD_ARTIFACTS_URL": "s3://models/prod/"})
    fs, root = open_filesystem(settings.artifacts_url, "artifact store")
    assert root == "models/prod" and fs.endpoint_url == "http://minio:9000"
    assert fs.config_kwargs["connect_timeout"] == 2 and fs.config_kwargs["retries"]["max_attempts"] == 4
    plain, _ = open_filesystem("s3://models/prod", "artifact store")  # a bare string: bounded defaults
    assert plain.config_kwargs["retries"]["max_attempts"] == 3 and plain.endpoint_url is None
