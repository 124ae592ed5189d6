"""Numbers on the command line: a Unicode digit or a huge number is a bad argument (exit 2), never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.cli import main


@pytest.mark.parametrize("reference", ["fraud/²", "fraud/٣", "fraud/99999999999999999999999"])
def test_models_show_refuses_a_version_that_is_not_ascii_digits(
    reference: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path / "ws"))
    assert main(["init"]) == 0
    capsys.readouterr()
    assert main(["models", "show", reference]) == 2
    error = capsys.readouterr().err
    assert "bad version" in error
    assert "unexpected" not in error
