"""``shipyard init --team``: a workspace pointed at shared services, checked before anything is written."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from shipyard import Registry
from shipyard.cli import main
from shipyard.errors import Conflict
from shipyard.store.database import HEAD_REVISION
from shipyard.store.schema_state import read_schema_state

pytestmark = pytest.mark.postgres


def with_password(url: str, password: str) -> str:
    """The URL with a password: the local server trusts 127.0.0.1, so it connects all the same."""
    return make_url(url).set(password=password).render_as_string(hide_password=False)


def init_team(home: Path, *options: str) -> int:
    return main(["init", str(home), "--team", *options])


def test_a_team_workspace_points_at_the_services_and_migrates_the_database(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, artifacts = tmp_path / "team", tmp_path / "shared" / "artifacts"

    code = init_team(home, "--db", with_password(postgres_url, "hunter22"), "--artifacts", str(artifacts))

    out = capsys.readouterr().out
    assert code == 0
    settings = tomllib.loads((home / "shipyard.toml").read_text())["shipyard"]
    assert settings["registry_url"] == postgres_url  # without the password
    assert (settings["artifacts_url"], settings["log_url"]) == (str(artifacts), f"{artifacts}/logs")
    assert "hunter22" not in out + (home / "shipyard.toml").read_text()
    assert "password is not written to shipyard.toml" in out and "migrated" in out
    assert read_schema_state(postgres_url).revision == HEAD_REVISION
    assert artifacts.is_dir() and (artifacts / "logs").is_dir()
    assert list(artifacts.iterdir()) == [artifacts / "logs"]  # the probes were deleted
    with Registry(home=home) as registry:
        assert registry.list_models() == []
        assert str(registry.settings.artifacts_url) == f"file://{artifacts}"


def test_a_teammate_joins_the_same_services(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = ["--db", postgres_url, "--artifacts", str(tmp_path / "artifacts")]
    storage += ["--log", str(tmp_path / "log")]
    init_team(tmp_path / "first", *storage)
    with Registry(home=tmp_path / "first") as registry:
        registry.create_model("fraud")
    capsys.readouterr()

    code = init_team(tmp_path / "second", *storage)

    assert code == 0 and "schema already there" in capsys.readouterr().out
    with Registry(home=tmp_path / "second") as registry:
        assert [model.name for model in registry.list_models()] == ["fraud"]


def test_an_unreachable_database_writes_nothing_and_hides_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "team"

    unreachable = "postgresql+psycopg://shipyard:hunter22@127.0.0.1:9/shipyard"

    code = init_team(home, "--db", unreachable, "--artifacts", str(tmp_path / "a"))

    error = capsys.readouterr().err
    assert code != 0 and not home.exists() and not (tmp_path / "a").exists()
    assert "hunter22" not in error and "is unreachable" in error and "127.0.0.1:9" in error
    assert len(error.strip().splitlines()) == 1


def test_an_unwritable_store_writes_nothing_and_migrates_nothing(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, blocked = tmp_path / "team", tmp_path / "a-file"
    blocked.write_text("not a folder")

    code = init_team(home, "--db", postgres_url, "--artifacts", str(blocked / "artifacts"))

    error = capsys.readouterr().err
    assert code != 0 and not home.exists()
    assert "artifact store" in error and str(blocked) in error
    assert read_schema_state(postgres_url).revision is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--db", "sqlite:///x.db"], "--db, --artifacts and --log only apply with --team"),
        (["--team", "--db", "sqlite:///x.db"], "init --team needs --db"),
        (["--team", "--artifacts", "a"], "init --team needs --db"),
        (["--team", "--db", "not a url", "--artifacts", "a"], "the registry URL given is not a database URL"),
    ],
)
def test_incomplete_team_options_are_refused(
    options: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["init", str(tmp_path / "team"), *options])

    assert code == 2 or code == 7
    assert message in capsys.readouterr().err
    assert not (tmp_path / "team").exists()


def test_an_existing_workspace_is_reused_only_for_the_same_services(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, artifacts = tmp_path / "team", str(tmp_path / "artifacts")
    assert init_team(home, "--db", postgres_url, "--artifacts", artifacts) == 0

    assert init_team(home, "--db", postgres_url, "--artifacts", artifacts) == Conflict.exit_code
    assert init_team(home, "--db", postgres_url, "--artifacts", artifacts, "--exist-ok") == 0
    elsewhere = init_team(home, "--db", postgres_url, "--artifacts", str(tmp_path / "other"), "--exist-ok")

    assert elsewhere == Conflict.exit_code
    assert "already has another artifacts_url" in capsys.readouterr().err
