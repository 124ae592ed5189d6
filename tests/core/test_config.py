from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.config import load_settings
from shipyard.errors import ConfigurationError, Conflict
from shipyard.workspace import init_workspace


def test_defaults_live_inside_the_workspace(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    assert settings.registry_url == f"sqlite:///{tmp_path / 'registry.db'}"
    assert settings.artifacts_url == f"file://{tmp_path / 'artifacts'}"
    assert settings.sources["registry_url"] == "default"


def test_environment_beats_toml_and_arguments_beat_environment(tmp_path: Path) -> None:
    init_workspace(tmp_path)
    (tmp_path / "shipyard.toml").write_text('[shipyard]\nactor = "from-file"\nbusy_timeout = 5\n')
    assert load_settings(tmp_path, environ={}).actor == "from-file"
    env = {"SHIPYARD_ACTOR": "from-env", "SHIPYARD_BUSY_TIMEOUT": "9"}
    settings = load_settings(tmp_path, environ=env)
    assert (settings.actor, settings.busy_timeout) == ("from-env", 9.0)
    assert settings.sources["actor"] == "$SHIPYARD_ACTOR"
    assert load_settings(tmp_path, environ=env, actor="from-arg").actor == "from-arg"


def test_an_empty_variable_counts_as_unset(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={"SHIPYARD_REGISTRY_URL": "", "SHIPYARD_ACTOR": ""})
    assert settings.sources["registry_url"] == "default"
    assert settings.registry_url == f"sqlite:///{tmp_path / 'registry.db'}"


def test_shipyard_home_variable_selects_the_workspace(tmp_path: Path) -> None:
    settings = load_settings(environ={"SHIPYARD_HOME": str(tmp_path / "elsewhere")})
    assert settings.home == tmp_path / "elsewhere"


def test_workspace_is_found_in_a_parent_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    init_workspace(tmp_path / ".shipyard")
    nested = tmp_path / "project" / "notebooks"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    assert load_settings(environ={}).home == tmp_path / ".shipyard"


def test_unknown_setting_in_toml_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text('[shipyard]\nregistry_ulr = "x"\n')
    with pytest.raises(ConfigurationError, match="registry_ulr"):
        load_settings(tmp_path, environ={})


def test_malformed_toml_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text("[shipyard\n")
    with pytest.raises(ConfigurationError, match="shipyard.toml"):
        load_settings(tmp_path, environ={})


def test_invalid_value_is_an_error_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="busy_timeout"):
        load_settings(tmp_path, environ={"SHIPYARD_BUSY_TIMEOUT": "soon"})


def test_init_refuses_to_overwrite_an_existing_workspace(tmp_path: Path) -> None:
    init_workspace(tmp_path)
    (tmp_path / "shipyard.toml").write_text('[shipyard]\nactor = "kept"\n')
    with pytest.raises(Conflict, match="already exists"):
        init_workspace(tmp_path)
    init_workspace(tmp_path, exist_ok=True)
    assert load_settings(tmp_path, environ={}).actor == "kept"


def test_prediction_log_settings_come_from_the_file_and_are_checked(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    home.mkdir()
    (home / "shipyard.toml").write_text(
        '[shipyard]\nlog_url = "s3://bucket/logs"\nlog_flush_seconds = 0.5\nlog_sample_rate = 0.1\n'
    )
    settings = load_settings(home, environ={})
    assert (settings.log_url, settings.log_flush_seconds, settings.log_sample_rate) == (
        "s3://bucket/logs",
        0.5,
        0.1,
    )
    assert settings.log_retention_days == 30.0
    for bad in (
        "log_sample_rate = 0",
        "log_sample_rate = 1.5",
        "log_flush_seconds = 0",
        "log_retention_days = -1",
    ):
        (home / "shipyard.toml").write_text(f"[shipyard]\n{bad}\n")
        with pytest.raises(ConfigurationError, match=bad.split(" ")[0]):
            load_settings(home, environ={})


def test_a_new_workspace_keeps_its_data_out_of_git_and_its_settings_in(tmp_path: Path) -> None:
    import subprocess

    from shipyard import Registry
    from tests.models import tiny_classifier

    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    home = tmp_path / ".shipyard"
    init_workspace(home)
    with Registry(home=home) as registry:
        registry.register("fraud", tiny_classifier())  # a database and an artifact now exist
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    untracked = sorted(line.removeprefix("?? ") for line in status.stdout.splitlines())
    assert untracked == [".shipyard/.gitignore", ".shipyard/shipyard.toml"]


def test_a_workspace_made_in_an_existing_folder_leaves_its_gitignore_alone(tmp_path: Path) -> None:
    init_workspace(tmp_path)  # e.g. `shipyard init .` in a project: ignoring everything would hide it
    assert not (tmp_path / ".gitignore").exists()
