"""``make demo`` runs the loop end to end: the weaker candidate is refused, the stronger one promoted."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard import Registry
from shipyard.cli import main

pytestmark = pytest.mark.slow


def test_demo_refuses_the_weaker_candidate_and_promotes_the_stronger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["demo", "--dir", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "fraud/2 failed the gate to production: no regression: roc_auc" in out
    assert "fraud/3 passed the gate to production" in out
    assert "identical predictions on 1500 hold-out rows: yes" in out
    assert "metrics match: yes" in out
    assert "monitors flagged amount, channel in the second hour" in out and "the first hour: nothing" in out
    assert "late labels arrived: 6000 attached, 0 unknown" in out
    with Registry(home=tmp_path / "demo" / ".shipyard") as registry:
        assert registry.resolve("fraud@production").version == 3
        actions = [event.action for event in registry.audit(action="alias.")]
        assert actions == ["alias.promote", "alias.promote", "alias.rollback", "alias.promote"]
    assert main(["demo", "--dir", str(tmp_path / "demo")]) == 0, "the demo can run again in its own folder"


def test_demo_refuses_a_folder_it_did_not_make(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert main(["demo", "--dir", str(tmp_path / "mine")]) == 4
    assert "was not made by the demo" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
