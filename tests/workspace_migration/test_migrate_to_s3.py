"""``shipyard migrate-workspace`` into an object store: artifacts and the prediction log moved into a real
S3-compatible server (SeaweedFS on 127.0.0.1), verified there, and served from there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tools.seaweedfs import SeaweedFS

from shipyard import Registry
from shipyard.cli import main
from shipyard.predictions import PredictionLog
from shipyard.store.schema_state import read_schema_state
from tests.s3.conftest import no_aws_environment, prefix, s3_variables, seaweedfs
from tests.workspace_migration.conftest import FEATURES, SourceWorkspace, file_sha256

__all__ = ["no_aws_environment", "prefix", "seaweedfs"]  # the S3 tests' fixtures, used here too


def test_a_workspace_moves_into_an_object_store_and_serves_from_it(
    source: SourceWorkspace,
    seaweedfs: SeaweedFS,
    prefix: str,
    no_aws_environment: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in s3_variables(seaweedfs).items():
        monkeypatch.setenv(name, value)
    before = file_sha256(source.database)
    database, artifacts = f"sqlite:///{tmp_path / 'team.db'}", f"s3://{prefix}/artifacts"
    command = ["--home", str(source.home), "migrate-workspace", "--to-db", database]
    command += ["--to-artifacts", artifacts]

    first = main([*command, "--json"])
    moved = json.loads(capsys.readouterr().out)
    second = main([*command, "--json"])
    again = json.loads(capsys.readouterr().out)

    assert first == second == 0 and moved["complete"] and again["complete"]
    files = {row["kind"]: row for row in moved["files"]}
    assert files["artifacts"]["copied"] == files["artifacts"]["source"] == 5
    assert files["prediction log"]["copied"] == files["prediction log"]["source"] > 0
    assert all(row["copied"] == 0 for row in again["files"] + again["tables"])
    assert file_sha256(source.database) == before
    team = Registry(
        home=tmp_path / "team", registry_url=database, artifacts_url=artifacts, log_url=f"{artifacts}/logs"
    )
    with team:
        predicted = team.load_model("churn@production").predict(source.frame[FEATURES])
        assert predicted.tolist() == source.predictions
        logged = PredictionLog(team.settings.log_url).query("SELECT count(*) AS n FROM predictions")
        assert logged.column("n")[0].as_py() == source.logged_rows


def test_a_team_workspace_on_an_object_store_probes_the_bucket(
    seaweedfs: SeaweedFS,
    prefix: str,
    no_aws_environment: None,
    postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in s3_variables(seaweedfs).items():
        monkeypatch.setenv(name, value)

    code = main(
        ["init", str(tmp_path / "team"), "--team", "--db", postgres_url, "--artifacts", f"s3://{prefix}"]
    )

    assert code == 0, capsys.readouterr().err
    assert f"log:       s3://{prefix}/logs (writable)" in capsys.readouterr().out
    with Registry(home=tmp_path / "team") as team:
        assert team.list_models() == [] and str(team.settings.artifacts_url) == f"s3://{prefix}"


def test_a_missing_bucket_is_named_and_nothing_is_written(
    seaweedfs: SeaweedFS,
    no_aws_environment: None,
    postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in s3_variables(seaweedfs).items():
        monkeypatch.setenv(name, value)

    code = main(
        ["init", str(tmp_path / "team"), "--team", "--db", postgres_url, "--artifacts", "s3://no-such/x"]
    )

    error = capsys.readouterr().err
    assert code == 7 and "bucket 'no-such'" in error and "does not exist: create it" in error
    assert not (tmp_path / "team").exists()
    assert read_schema_state(postgres_url).revision is None


def test_a_move_into_a_missing_bucket_is_refused_naming_it(
    source: SourceWorkspace,
    seaweedfs: SeaweedFS,
    no_aws_environment: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in s3_variables(seaweedfs).items():
        monkeypatch.setenv(name, value)
    database = f"sqlite:///{tmp_path / 'team.db'}"

    code = main(
        [
            "--home",
            str(source.home),
            "migrate-workspace",
            "--to-db",
            database,
            "--to-artifacts",
            "s3://no-such/a",
        ]
    )

    assert code == 7 and "bucket 'no-such'" in capsys.readouterr().err
