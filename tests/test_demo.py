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
    # The monitors' findings fire alerts to the demo's webhook, signed; the slow model is rolled back.
    assert "webhook ← firing: WARNING fraud:dataset-drift — fraud/3 drift.dataset = 1" in out
    assert "webhook ← firing: CRITICAL fraud:accuracy-drop — fraud/3 accuracy.accuracy = 0.726" in out
    assert "webhook ← firing: CRITICAL fraud:latency-p99 — fraud/4" in out
    assert "(signature ok)" in out and "BAD SIGNATURE" not in out
    assert "rollback done: fraud@production: version 4 → 3" in out
    with Registry(home=tmp_path / "demo" / ".shipyard") as registry:
        assert registry.resolve("fraud@production").version == 3
        events = registry.audit(action="alias.")
        assert [event.action for event in events] == [
            "alias.promote", "alias.promote", "alias.rollback", "alias.promote", "alias.set", "alias.rollback"
        ]  # fmt: skip
        assert events[-1].reason.startswith("alert fraud:latency-p99 fired")
    assert main(["demo", "--dir", str(tmp_path / "demo")]) == 0, "the demo can run again in its own folder"


def test_demo_refuses_a_folder_it_did_not_make(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert main(["demo", "--dir", str(tmp_path / "mine")]) == 4
    assert "was not made by the demo" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
