"""``shipyard score`` and ``shipyard runs`` from the shell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipyard.cli import main
from tests.batch.conftest import table


def test_score_from_the_shell_then_list_and_show_the_run(
    trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHIPYARD_HOME", str(trained))
    monkeypatch.setenv("COLUMNS", "250")
    frame = table(60, 20).astype({"amount": object})
    frame.loc[2, "amount"] = "n/a"
    frame.to_csv(tmp_path / "in.csv", index=False)
    out = tmp_path / "out"
    assert (
        main(["score", "fraud@production", "-i", str(tmp_path / "in.csv"), "-o", str(out), "-k", "id"]) == 0
    )
    printed = capsys.readouterr().out
    assert "60 rows, 59 scored, 1 rejected" in printed and "row 2, amount" in printed

    assert main(["score", "fraud@production", "-i", str(tmp_path / "in.csv"), "-o", str(tmp_path / "o2"),
                 "--max-reject-share", "0.001", "--json"]) == 1  # fmt: skip
    assert "more than the allowed 0.10%" in capsys.readouterr().err

    assert main(["runs", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [run["status"] for run in runs[:2]] == ["failed", "succeeded"]
    assert main(["runs", "show", runs[1]["run_id"]]) == 0
    assert "59 scored, 1 rejected" in capsys.readouterr().out
    assert main(["runs", "show", "nope"]) == 3
    assert (
        main(["score", "fraud@production", "-i", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "o3")])
        == 3
    )
