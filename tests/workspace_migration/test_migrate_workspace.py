"""``shipyard migrate-workspace``: a real SQLite workspace moved into PostgreSQL and another artifacts
folder, then opened there and used; the source checked byte for byte; re-runs, interruptions, conflicts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sklearn.linear_model import LogisticRegression
from sqlalchemy.engine import make_url

from shipyard import Registry
from shipyard.access import AccessService
from shipyard.cli import main
from shipyard.config import load_settings
from shipyard.errors import Conflict
from shipyard.predictions import PredictionLog
from shipyard.registry.workspace_migration import MigrationTarget, migrate_workspace
from shipyard.store.schema import Base
from tests.workspace_migration.conftest import FEATURES, SourceWorkspace, file_sha256, transactions

pytestmark = pytest.mark.postgres
TABLES = [table.name for table in Base.metadata.sorted_tables]


Move = Callable[..., tuple[int, dict[str, Any], str]]


@pytest.fixture
def move(capsys: pytest.CaptureFixture[str], source: SourceWorkspace) -> Move:
    """Run ``shipyard migrate-workspace … --json`` on the source: its exit code, report and stderr."""

    def run(db: str, artifacts: Path) -> tuple[int, dict[str, Any], str]:
        capsys.readouterr()
        command = ["migrate-workspace", "--to-db", db, "--to-artifacts", str(artifacts), "--json"]
        code = main(["--home", str(source.home), *command])
        captured = capsys.readouterr()
        return code, json.loads(captured.out) if code == 0 else {}, captured.err

    return run


def destination(db: str, artifacts: Path) -> Registry:
    """The moved workspace, opened where a team would open it (the log beside the artifacts)."""
    return Registry(
        home=artifacts.parent / "team",
        registry_url=db,
        artifacts_url=str(artifacts),
        log_url=str(artifacts / "logs"),
        actor="tester",
    )


def counts(report: dict[str, Any]) -> dict[str, tuple[int, int, int, int]]:
    return {
        row["table"]: (row["source"], row["destination_before"], row["copied"], row["destination_after"])
        for row in report["tables"]
    }


def test_a_moved_workspace_serves_the_same_models_with_every_row_and_file(
    source: SourceWorkspace, postgres_url: str, tmp_path: Path, move: Move
) -> None:
    before = file_sha256(source.database)
    artifacts = tmp_path / "team-artifacts"

    code, report, _ = move(postgres_url, artifacts)

    assert code == 0 and report["complete"]
    tables = counts(report)
    assert sorted(tables) == sorted(TABLES)
    for name, (in_source, was, copied, now) in tables.items():
        assert in_source > 0, f"the source workspace should fill {name}"
        assert (was, copied, now) == (0, in_source, in_source), name
    files = {row["kind"]: row for row in report["files"]}
    assert files["artifacts"]["source"] == files["artifacts"]["copied"] == 5  # 4 models and a dataset
    assert files["prediction log"]["copied"] == files["prediction log"]["source"] > 0
    assert file_sha256(source.database) == before  # the workspace was only read
    with destination(postgres_url, artifacts) as moved:
        assert moved.resolve("churn@production").version == 1
        predicted = moved.load_model("churn@production").predict(source.frame[FEATURES])
        assert predicted.tolist() == source.predictions
        assert [event.action for event in moved.audit(limit=1000)] == source.audit_actions
        assert moved.datasets.load("transactions").shape == source.frame.shape
        assert AccessService(moved.db, "tester").authenticate(source.token).user == "ci"
        logged = PredictionLog(moved.settings.log_url).query("SELECT count(*) AS n FROM predictions")
        assert logged.column("n")[0].as_py() == source.logged_rows
        fitted = LogisticRegression().fit(source.frame[FEATURES], source.frame["fraud"])
        assert moved.register("churn", fitted).version == 4  # new rows get new ids: sequences moved on


def test_moving_again_changes_nothing(
    source: SourceWorkspace, postgres_url: str, tmp_path: Path, move: Move
) -> None:
    artifacts = tmp_path / "team-artifacts"
    move(postgres_url, artifacts)

    code, again, _ = move(postgres_url, artifacts)

    assert code == 0 and again["complete"]
    for name, (in_source, was, copied, now) in counts(again).items():
        assert (was, copied, now) == (in_source, 0, in_source), name
    for files in again["files"]:
        assert files["copied"] == 0 and files["already_there"] == files["source"]


def test_an_interrupted_move_completes_when_run_again(
    source: SourceWorkspace, postgres_url: str, tmp_path: Path, move: Move
) -> None:
    artifacts = tmp_path / "team-artifacts"
    target = MigrationTarget(postgres_url, str(artifacts), str(artifacts / "logs"))

    def stop_halfway(line: str) -> None:
        if "model_versions" in line:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        migrate_workspace(load_settings(source.home), target, progress=stop_halfway)
    code, report, _ = move(postgres_url, artifacts)

    assert code == 0 and report["complete"]
    tables = counts(report)
    assert tables["models"][1:3] == (tables["models"][0], 0)  # copied by the first run
    assert tables["model_versions"][1:3] == (0, tables["model_versions"][0])  # by the second


def test_a_destination_holding_another_workspace_is_refused_before_anything_is_written(
    source: SourceWorkspace, postgres_url: str, tmp_path: Path, move: Move
) -> None:
    artifacts = tmp_path / "team-artifacts"
    with destination(postgres_url, tmp_path / "other") as other:
        other.create_model("someone-else")

    code, _, error = move(postgres_url, artifacts)

    assert code == Conflict.exit_code
    assert "the destination's table audit_events already has a row id=1 whose at differs" in error
    assert not artifacts.exists()
    with destination(postgres_url, tmp_path / "other") as other:
        assert [model.name for model in other.list_models()] == ["someone-else"]


def test_a_destination_row_that_differs_is_refused_naming_its_table(
    source: SourceWorkspace, postgres_url: str, tmp_path: Path, move: Move
) -> None:
    artifacts = tmp_path / "team-artifacts"
    move(postgres_url, artifacts)
    url = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("UPDATE models SET description = 'changed' WHERE name = 'churn'")

    code, _, error = move(postgres_url, artifacts)

    assert code == Conflict.exit_code
    assert "table models already has a row id=" in error and "whose description differs" in error


def test_a_destination_used_since_the_move_is_refused_rather_than_mixed(
    source: SourceWorkspace, postgres_url: str, tmp_path: Path, move: Move
) -> None:
    artifacts = tmp_path / "team-artifacts"
    move(postgres_url, artifacts)
    with destination(postgres_url, artifacts) as moved:
        moved.create_model("added-by-the-team")

    code, _, error = move(postgres_url, artifacts)

    assert code == Conflict.exit_code
    assert "table audit_events holds 1 row(s) the workspace being moved does not have" in error


def test_a_damaged_artifact_at_the_destination_is_reported(
    source: SourceWorkspace, postgres_url: str, tmp_path: Path, move: Move
) -> None:
    artifacts = tmp_path / "team-artifacts"
    move(postgres_url, artifacts)
    stored = next(path for path in (artifacts / "objects").rglob("*") if path.is_file())
    stored.write_bytes(b"x" * stored.stat().st_size)

    code, _, error = move(postgres_url, artifacts)

    assert code == 5
    assert f"({stored})" in error and "is damaged: delete that object and run the move again" in error


def test_moving_into_a_sqlite_database_and_another_folder_works_too(
    source: SourceWorkspace, tmp_path: Path, move: Move
) -> None:
    target = tmp_path / "elsewhere.db"

    code, report, _ = move(f"sqlite:///{target}", tmp_path / "artifacts")

    assert code == 0 and report["complete"]
    with destination(f"sqlite:///{target}", tmp_path / "artifacts") as moved:
        assert moved.load_model("churn@staging").describe()


def test_the_workspace_itself_is_refused_as_destination(
    source: SourceWorkspace, tmp_path: Path, move: Move
) -> None:
    code, _, error = move(f"sqlite:///{source.database}", tmp_path / "artifacts")

    assert code == 2 and "is the workspace's own" in error


def test_an_unreachable_destination_is_one_line_without_the_password(
    source: SourceWorkspace, tmp_path: Path, move: Move
) -> None:
    code, _, error = move("postgresql+psycopg://shipyard:s3cret@127.0.0.1:9/shipyard", tmp_path / "a")

    assert code == 7
    assert "s3cret" not in error and "127.0.0.1:9" in error
    assert len(error.strip().splitlines()[-1]) > 0 and error.strip().splitlines()[-1].startswith("error:")


def test_a_workspace_on_postgresql_moves_too(postgres_url: str, tmp_path: Path) -> None:
    frame = transactions(100, seed=3)
    with Registry(home=tmp_path / "ws", registry_url=postgres_url) as registry:
        registry.register("churn", LogisticRegression().fit(frame[FEATURES], frame["fraud"]))
        registry.set_alias("churn", "production", 1)
    target = MigrationTarget(f"sqlite:///{tmp_path / 'moved.db'}", str(tmp_path / "a"), str(tmp_path / "l"))

    report = migrate_workspace(load_settings(tmp_path / "ws", registry_url=postgres_url), target)
    again = migrate_workspace(load_settings(tmp_path / "ws", registry_url=postgres_url), target)

    assert report.complete and report.copied_rows > 0
    assert again.complete and again.copied_rows == 0
    with destination(target.registry_url, tmp_path / "a") as moved:
        assert moved.resolve("churn@production").version == 1
