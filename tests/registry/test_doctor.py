"""``shipyard doctor`` on real workspaces (SQLite and PostgreSQL, real artifact files): every problem it is
meant to find, found and explained with what to do, and a healthy workspace passing with exit code 0."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from shipyard import Registry, VersionMetadata
from shipyard.cli import main
from shipyard.config import load_settings
from shipyard.registry.doctor import DoctorOptions, examine_workspace
from shipyard.store.database import HEAD_REVISION
from shipyard.training import train
from tests.models import ThresholdModel, tiny_classifier, transactions
from tests.serving.conftest import Exploding, fraud_spec

OLD_REVISION = "0011_retrain_runs"


@pytest.fixture
def home(workspace: Path, registry_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A workspace on SQLite and on PostgreSQL: fraud/1 behind fraud@production, fraud/2 behind staging."""
    monkeypatch.setenv("SHIPYARD_HOME", str(workspace))
    monkeypatch.setenv("SHIPYARD_REGISTRY_URL", registry_url)
    monkeypatch.setenv("COLUMNS", "400")  # one finding per line, however long the temporary paths are
    with Registry(home=workspace) as registry:
        registry.register("fraud", tiny_classifier(seed=0))
        registry.register("fraud", tiny_classifier(seed=1))
        registry.set_alias("fraud", "production", 1)
        registry.set_alias("fraud", "staging", 2)
    yield workspace


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["doctor", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def problems(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("problem:")]


def artifact_of(home: Path, ref: str) -> Path:
    with Registry(home=home) as registry:
        return Path(registry.artifacts.object_path(registry.resolve(ref).artifact_sha256))


def alembic_to(url: str, revision: str) -> None:
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(resources.files("shipyard.store") / "migrations"))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
        connection.commit()
    engine.dispose()


def recorded_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


# -- healthy -------------------------------------------------------------------------------------------------
def test_a_healthy_workspace_passes_with_one_summary_line(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = doctor(capsys)
    assert code == 0, output
    assert output.splitlines() == [
        f"ok: the workspace at {home} is healthy: database migrated, artifact store writable, prediction log "
        "reachable, 2 versions verified and loaded"
    ]
    code, verbose = doctor(capsys, "--verbose")
    assert code == 0
    assert "ok: fraud/1 (fraud@production): artifact present, sha256 verified" in verbose
    assert "ok: fraud/2 (fraud@staging)" in verbose and f"schema at revision '{HEAD_REVISION}'" in verbose
    assert not list((home / "artifacts").glob(".shipyard-doctor-*")), "the write probe is deleted"


def test_json_lists_every_check_for_scripts(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, output = doctor(capsys, "--json")
    report = json.loads(output)
    assert code == 0 and report["ok"] is True and report["problems"] == 0 and report["loaded"] is True
    assert report["workspace"] == str(home)
    assert [check["subject"] for check in report["checks"]] == [
        "metadata database",
        "artifact store",
        "prediction log",
        "fraud/1 (fraud@production)",
        "fraud/2 (fraud@staging)",
    ]
    assert {check["status"] for check in report["checks"]} == {"ok"}


def test_a_version_holding_two_aliases_is_checked_once_naming_both(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Registry(home=home) as registry:
        registry.set_alias("fraud", "staging", 1)
    report = json.loads(doctor(capsys, "--json")[1])
    assert [check["subject"] for check in report["checks"][3:]] == [
        "fraud/1 (fraud@production, fraud@staging)"
    ]


# -- artifacts -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("load", ["--load", "--no-load"])
def test_a_deleted_artifact_is_a_problem_naming_the_version_and_the_way_out(
    home: Path, capsys: pytest.CaptureFixture[str], load: str
) -> None:
    artifact_of(home, "fraud/1").unlink()
    code, output = doctor(capsys, load)
    assert code == 1
    (line,) = problems(output)
    assert line.startswith("problem: fraud/1 (fraud@production): the artifact of fraud/1 (sha256 ")
    assert "is missing from file://" in line and "restore the artifact store from a backup" in line
    assert "shipyard rollback fraud@production" in line
    assert output.splitlines()[-1] == f"1 problem in the workspace at {home}"


def test_a_corrupted_artifact_is_found_by_its_hash(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stored = artifact_of(home, "fraud/2")
    damaged = bytearray(stored.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # one flipped byte, the size unchanged
    stored.write_bytes(bytes(damaged))
    code, output = doctor(capsys, "--no-load")
    assert code == 1
    (line,) = problems(output)
    assert line.startswith(
        "problem: fraud/2 (fraud@staging): the artifact of fraud/2 is corrupted: its bytes hash"
    )
    assert "shipyard rollback fraud@staging" in line
    report = json.loads(doctor(capsys, "--json")[1])
    assert report["ok"] is False and report["problems"] == 1
    broken = next(check for check in report["checks"] if check["status"] == "problem")
    assert broken["subject"] == "fraud/2 (fraud@staging)" and "corrupted" in broken["detail"]
    assert "shipyard rollback fraud@staging" in broken["fix"]


def test_an_unaliased_version_is_checked_only_with_all_versions(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Registry(home=home) as registry:
        registry.register("fraud", tiny_classifier(seed=2))
    artifact_of(home, "fraud/3").unlink()
    assert doctor(capsys)[0] == 0
    code, output = doctor(capsys, "--all-versions")
    (line,) = problems(output)
    assert code == 1 and line.startswith("problem: fraud/3: the artifact of fraud/3")
    assert "no alias points at it, so nothing serves it" in line


def test_model_option_examines_only_the_models_named(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Registry(home=home) as registry:
        registry.register("churn", tiny_classifier(seed=3))
        registry.set_alias("churn", "production", 1)
    artifact_of(home, "churn/1").unlink()
    assert doctor(capsys, "--model", "fraud")[0] == 0
    code, output = doctor(capsys, "-m", "churn", "-m", "fraud")
    assert code == 1 and len(problems(output)) == 1 and "churn/1 (churn@production)" in output
    code, output = doctor(capsys, "--model", "frad")
    assert code == 3 and "model 'frad' not found; did you mean 'fraud'?" in output


# -- loading -----------------------------------------------------------------------------------------------
def test_an_alias_on_a_version_whose_format_fails_to_load_is_a_problem(
    home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A pickled model whose class's module is gone: the hash is right, the load is not."""
    module = f"vanishing_model_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / f"{module}.py").write_text(
        "import numpy as np\n\n\nclass Constant:\n"
        "    def predict(self, data):\n        return np.zeros(len(data))\n"
    )
    sys.path.insert(0, str(folder))
    try:
        constant = __import__(module).Constant()
        with Registry(home=home) as registry:
            registry.register("fraud", constant)
            registry.set_alias("fraud", "production", 3)
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop(module, None)
    (folder / f"{module}.py").unlink()
    code, output = doctor(capsys, "--trust")
    assert code == 1
    (line,) = problems(output)
    assert line.startswith("problem: fraud/3 (fraud@production): fraud/3 (python) failed to load:")
    assert f"No module named '{module}'" in line and "shipyard rollback fraud@production" in line
    assert doctor(capsys, "--no-load")[0] == 0, "its artifact is intact: only loading finds it"


def test_a_pickled_model_needs_trust_as_it_does_to_be_served(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Registry(home=home) as registry:
        registry.register("threshold", ThresholdModel(0.5))
        registry.set_alias("threshold", "production", 1)
    code, output = doctor(capsys, "--model", "threshold")
    (line,) = problems(output)
    assert code == 1 and "can execute arbitrary code" in line and "--trust" in line
    code, output = doctor(capsys, "--model", "threshold", "--trust")
    assert code == 0, output


def test_a_model_that_fails_on_its_own_holdout_rows_is_a_problem(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server warms a version on its hold-out rows and refuses it if it fails there: so does doctor."""
    with Registry(home=home) as registry:
        registry.datasets.add("tx", transactions(rows=200))
        trained = train(fraud_spec(), registry=registry, progress=False).version
        registry.register("fraud", Exploding(), metadata=VersionMetadata(training=trained.training))
        registry.set_alias("fraud", "production", trained.version)
    code, output = doctor(capsys, "--trust", "--verbose")
    assert code == 0, output
    assert f"fraud/{trained.version} (fraud@production): artifact present" in output
    assert "loads as sklearn and answers its hold-out rows" in output
    with Registry(home=home) as registry:
        registry.set_alias("fraud", "production", trained.version + 1)
    code, output = doctor(capsys, "--trust")
    (line,) = problems(output)
    assert code == 1 and "loads but fails on its own hold-out rows" in line
    assert "ValueError: the model exploded" in line


# -- the database ------------------------------------------------------------------------------------------
def test_a_database_at_an_old_migration_is_reported_not_migrated(
    home: Path, registry_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    alembic_to(registry_url, OLD_REVISION)
    code, output = doctor(capsys)
    assert code == 1
    (line,) = problems(output)
    assert f"is at schema revision '{OLD_REVISION}'; this shipyard needs '{HEAD_REVISION}'" in line
    assert "shipyard init --exist-ok" in line
    assert "skipped: models: not examined: the metadata database must be fixed first" in output
    assert recorded_revision(registry_url) == OLD_REVISION, "doctor only looks: it never migrates"
    assert main(["init", "--exist-ok"]) == 0  # the fix it names
    assert doctor(capsys)[0] == 0


def test_a_database_from_a_newer_shipyard_says_to_upgrade(
    home: Path, registry_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = create_engine(registry_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    engine.dispose()
    code, output = doctor(capsys)
    (line,) = problems(output)
    assert code == 1 and "migrated by a newer shipyard (schema revision '0099_from_the_future')" in line
    assert "pip install -U shipyard" in line


def test_an_unreachable_database_is_a_problem_and_the_models_are_not_examined(
    home: Path, registry_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if registry_url.startswith("sqlite"):
        gone = f"sqlite:///{home / 'moved-away.db'}"
        expected = f"there is no SQLite database at {home / 'moved-away.db'}"
    else:
        with socket.socket() as probe:  # a port nothing listens on: connection refused
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        gone = make_url(registry_url).set(port=port).render_as_string(hide_password=False)
        expected = "is unreachable ("
    monkeypatch.setenv("SHIPYARD_REGISTRY_URL", gone)
    code, output = doctor(capsys)
    assert code == 1
    (line,) = problems(output)
    assert line.startswith("problem: metadata database: ") and expected in line
    assert "'shipyard config' shows where it comes from" in line
    assert "skipped: models" in output
    assert not (home / "moved-away.db").exists(), "doctor creates no database"
    report = json.loads(doctor(capsys, "--json")[1])
    assert [check["status"] for check in report["checks"]] == ["problem", "ok", "ok", "skipped"]


def test_a_file_without_a_shipyard_schema_says_to_init(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = home / "empty.db"
    create_engine(f"sqlite:///{empty}").connect().close()
    monkeypatch.setenv("SHIPYARD_REGISTRY_URL", f"sqlite:///{empty}")
    code, output = doctor(capsys)
    (line,) = problems(output)
    assert code == 1 and "holds no shipyard schema" in line and "shipyard init --exist-ok" in line


# -- the storage roots ---------------------------------------------------------------------------------------
def test_a_missing_artifact_store_is_one_problem_not_one_per_version(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_ARTIFACTS_URL", str(home / "not-there"))
    code, output = doctor(capsys)
    (line,) = problems(output)
    assert code == 1 and f"the artifact store folder file://{home / 'not-there'} does not exist" in line
    assert "skipped: models: not examined: the artifact store must be fixed first" in output
    assert not (home / "not-there").exists()


def test_storage_roots_that_are_files_are_problems(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / "a-file").write_text("not a folder")
    monkeypatch.setenv("SHIPYARD_ARTIFACTS_URL", str(home / "a-file"))
    monkeypatch.setenv("SHIPYARD_LOG_URL", str(home / "a-file"))
    code, output = doctor(capsys)
    lines = problems(output)
    assert code == 1 and len(lines) == 2
    assert (
        lines[0].startswith("problem: artifact store: the artifact store root ") and "is a file" in lines[0]
    )
    assert lines[1].startswith("problem: prediction log: the prediction log root ") and "log_url" in lines[1]


def test_a_log_root_not_created_yet_is_fine(home: Path) -> None:
    report = examine_workspace(load_settings(home), DoctorOptions(load=False))
    log = next(check for check in report.checks if check.subject == "prediction log")
    assert report.ok and log.status == "ok" and "no prediction logged yet" in log.detail
    (home / "logs" / "predictions").mkdir(parents=True)
    log = next(c for c in examine_workspace(load_settings(home)).checks if c.subject == "prediction log")
    assert log.status == "ok" and log.detail.endswith("reachable")


def test_doctor_runs_where_the_workspace_is_not_through_a_server(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHIPYARD_HOME")
    monkeypatch.setenv("SHIPYARD_URL", "http://127.0.0.1:9")
    code, output = doctor(capsys)
    assert code == 7 and "'shipyard doctor' runs where the workspace's database and artifacts are" in output


def test_the_documented_commands_run_on_a_healthy_workspace(tmp_path: Path) -> None:
    """docs/reliability.md's doctor commands, run as written (exit code 0 on a healthy workspace)."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "reliability.md").read_text(encoding="utf-8")
    section = page[page.index("## Checking a workspace: `shipyard doctor`") :]
    start = section.index("```bash\n") + len("```bash\n")
    block = section[start : section.index("```", start)]
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert len(commands) == 4 and all(command.startswith("shipyard doctor") for command in commands)
    home = tmp_path / "ws"
    with Registry(home=home) as registry:
        registry.register("fraud", tiny_classifier())
        registry.set_alias("fraud", "production", 1)
    environment = {**os.environ, "SHIPYARD_HOME": str(home)}
    for line in commands:
        argv = [sys.executable, "-m", "shipyard", *shlex.split(line)[1:]]
        done = subprocess.run(argv, env=environment, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{line}: {done.stdout}{done.stderr}"
    assert json.loads(done.stdout)["ok"] is True  # the last one is --json
