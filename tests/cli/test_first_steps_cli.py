"""A newcomer's first commands: the example shipped in the package, and being told which workspace changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipyard.cli import main
from shipyard.examples import EXAMPLES, example_files


def test_example_lists_what_ships_and_writes_one_ready_to_train(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["example", "--json"]) == 0
    assert [entry["name"] for entry in json.loads(capsys.readouterr().out)] == list(EXAMPLES)

    assert main(["example", "fraud"]) == 0  # no folder: one named after the example
    assert sorted(path.name for path in (tmp_path / "fraud").iterdir()) == ["spec.toml", "transactions.csv"]
    spec = (tmp_path / "fraud" / "spec.toml").read_text(encoding="utf-8")
    header = (tmp_path / "fraud" / "transactions.csv").read_text(encoding="utf-8").splitlines()[0]
    assert 'path = "transactions.csv"' in spec
    assert header.split(",") == ["amount", "hour", "channel", "account_age_days", "fraud"]


def test_example_never_overwrites_unless_forced_and_suggests_close_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "spec.toml").write_text("mine", encoding="utf-8")
    assert main(["example", "fraud", str(tmp_path)]) == 4
    err = capsys.readouterr().err
    assert "spec.toml" in err and "--force" in err
    assert (tmp_path / "spec.toml").read_text(encoding="utf-8") == "mine"
    assert not (tmp_path / "transactions.csv").exists()  # nothing half-copied

    assert main(["example", "fraud", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "spec.toml").read_text(encoding="utf-8") != "mine"

    assert main(["example", "frud", str(tmp_path / "x")]) == 3
    assert "did you mean 'fraud'" in capsys.readouterr().err
    assert example_files("fraud") == ["spec.toml", "transactions.csv"]


def test_commands_that_change_a_workspace_name_it_first_and_reads_stay_quiet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHIPYARD_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    nested = tmp_path / "project" / "sub"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)  # the workspace is found in a parent folder: the trap the message prevents
    capsys.readouterr()
    assert main(["data", "add", str(_csv(nested)), "--name", "tx"]) == 0
    assert capsys.readouterr().err.splitlines()[0] == f"workspace: {tmp_path / '.shipyard'}"
    assert main(["data", "list", "--json"]) == 0
    assert "workspace:" not in capsys.readouterr().err


def _csv(folder: Path) -> Path:
    path = folder / "rows.csv"
    path.write_text("a,b\n1,2\n3,4\n", encoding="utf-8")
    return path
