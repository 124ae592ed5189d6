"""``make demo`` runs the loop end to end: the weaker candidate is refused, the stronger one promoted;
a faulty canary is aborted by analysis, its fix promoted step by step, and a refit passes a shadow run;
then the drift alert starts a retraining run whose version passes its gate and canary on its own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shipyard import Registry, rollouts
from shipyard.cli import main
from shipyard.cli.demo.story import fresh_workspace
from shipyard.store.retrain_runs import RetrainRunRepository

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
    # Rollouts through a real engine following the database, judged by the controller from the log.
    assert "aborted: check error_rate failed: error rate" in out
    assert "step 4 (100%): 160 canary → promote: step 4 of 4 passed its analysis" in out
    assert "agreement: same label on 96.62% of 800 mirrored rows" in out
    with Registry(home=tmp_path / "demo" / ".shipyard") as registry:
        assert registry.resolve("fraud@production").version == 8
        events = registry.audit(action="alias.")
        assert [event.action for event in events] == [
            "alias.promote", "alias.promote", "alias.rollback", "alias.promote", "alias.set",
            "alias.rollback", "alias.promote", "alias.promote",
        ]  # fmt: skip
        assert events[-3].reason.startswith("alert fraud:latency-p99 fired")
        assert events[-2].reason.startswith("rollout 2 promoted v6")
        assert events[-1].reason.startswith("rollout 4 promoted v8")
        aborted, promoted, passed, retrained = reversed(rollouts.history(registry, "fraud"))
        assert (aborted.candidate, aborted.state, aborted.candidate_share) == (5, "aborted", 0.0)
        assert aborted.reason.startswith("check error_rate failed")
        [analysis] = [a for step in aborted.steps for a in step.analyses]
        assert analysis["figures"]["candidate"]["errors"] > 0 == analysis["figures"]["stable"]["errors"]
        assert (promoted.candidate, promoted.state) == (6, "promoted")
        assert [step.candidate_share for step in promoted.steps] == [0.05, 0.25, 0.5, 1.0]
        assert [a["verdict"] for step in promoted.steps for a in step.analyses] == ["pass"] * 4
        assert (passed.strategy, passed.state, passed.stable, passed.candidate) == ("shadow", "passed", 6, 7)
        [shadow] = [a for step in passed.steps for a in step.analyses]
        assert shadow["figures"]["pairs"]["pairs"] == 800 and shadow["figures"]["pairs"]["agreement"] >= 0.95
        # The loop closed with no command: alert → retraining run on the labelled log → gate → canary.
        [run] = RetrainRunRepository(registry.db, registry.actor).history("fraud")
        assert (run.trigger, run.trigger_detail["rule"], run.state) == (
            "alert",
            "fraud:dataset-drift",
            "succeeded",
        )
        assert run.details["dataset"] == "fraud-labelled/1" and run.details["candidate"] == "fraud/8"
        assert run.details["gate"]["passed"] and run.details["rollout"] == retrained.id
        assert (retrained.candidate, retrained.state) == (8, "promoted")
        assert [step.candidate_share for step in retrained.steps] == [0.2, 0.5, 1.0]
        lineage = registry.resolve("fraud/8").training["report"]["datasets"]
        assert lineage["data"] == "fraud-labelled/1"
    assert "saw fraud:dataset-drift fire and ran the policy" in out
    assert "fraud@production → v8: rollout 4 promoted v8" in out
    recovered = re.search(r"accuracy on the new traffic: (0\.\d+) \(fraud/6\) → (0\.\d+) \(fraud/8\)", out)
    assert recovered and float(recovered[2]) > float(recovered[1]) + 0.1


def test_the_demo_runs_again_in_the_folder_it_made(tmp_path: Path) -> None:
    made = fresh_workspace(tmp_path / "demo")
    (made / ".shipyard").mkdir()
    (made / ".shipyard" / "registry.db").write_text("an earlier run's")
    again = fresh_workspace(tmp_path / "demo")
    assert again == made and sorted(path.name for path in again.iterdir()) == [".shipyard-demo"]


def test_demo_refuses_a_folder_it_did_not_make(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert main(["demo", "--dir", str(tmp_path / "mine")]) == 4
    assert "was not made by the demo" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
