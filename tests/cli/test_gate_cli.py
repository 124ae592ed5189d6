"""``shipyard gate check`` and ``shipyard promote``: tables, JSON, JUnit and the exit codes CI relies on."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from xml.etree import ElementTree

import pytest
from sklearn.linear_model import LogisticRegression

from shipyard import Registry
from shipyard.cli import main
from shipyard.gates import promote
from shipyard.training import train
from tests.models import transactions


def _spec(estimator: str) -> dict[str, object]:
    return {
        "model": "fraud",
        "seed": 2,
        "data": {"dataset": "tx", "target": "fraud", "features": ["amount", "channel", "hour"]},
        "estimator": {"class": estimator},
        "cv": {"folds": 3},
    }


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry_url: str) -> Path:
    """fraud/1 (logistic regression) holds production; fraud/2 is a constant model."""
    home = tmp_path / "ws"
    monkeypatch.setenv("SHIPYARD_HOME", str(home))
    monkeypatch.setenv("SHIPYARD_REGISTRY_URL", registry_url)
    monkeypatch.setenv("COLUMNS", "220")
    with Registry(home=home) as registry:
        registry.datasets.add("tx", transactions(rows=800))
        train(_spec("sklearn.linear_model.LogisticRegression"), registry=registry, progress=False)
        promote(registry, "fraud/1", "production")
        train(_spec("sklearn.dummy.DummyClassifier"), registry=registry, progress=False)
    return home


def test_gate_check_exit_codes_table_json_and_junit(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "gate.xml"
    assert main(["gate", "check", "fraud/2", "--to", "production", "--junit", str(junit)]) == 1
    out = capsys.readouterr().out
    assert "no regression: roc_auc" in out and "FAIL" in out and "failed the gate" in out
    suite = ElementTree.parse(junit).getroot()
    assert suite.tag == "testsuite" and int(suite.get("failures", "0")) >= 1
    failing = [case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None]
    assert "no regression: roc_auc" in failing

    assert main(["gate", "check", "fraud/2", "--to", "production", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is False and report["champion"] == "fraud/1"

    assert main(["gate", "check", "fraud/9", "--to", "production"]) == 2
    assert "the gate could not run: model 'fraud' has no version 9" in capsys.readouterr().err

    (home / "shipyard.toml").write_text(
        textwrap.dedent(
            """
            [gates.fraud.staging]
            regression = { tolerance = 1.0 }
            """
        )
    )
    assert main(["gate", "check", "fraud/2", "--to", "staging"]) == 0


def test_promote_refuses_a_failing_version_unless_forced_with_a_reason(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["promote", "fraud/2", "--to", "production"]) == 1
    assert "fraud/2 failed the gate to production" in capsys.readouterr().err
    assert main(["promote", "fraud/2", "--to", "production", "--force"]) == 2
    assert "needs a reason" in capsys.readouterr().err
    assert main(["promote", "fraud/2", "--to", "production", "--force", "--reason", "incident 7"]) == 0
    assert "FORCED: fraud@production v1 → v2" in capsys.readouterr().out
    shown = json.loads(_run_json(capsys, "models", "show", "fraud/2"))
    assert [(run["passed"], run["promoted"], run["forced"]) for run in shown["gate_runs"]] == [
        (False, False, False),
        (False, True, True),
    ]
    assert main(["models", "show", "fraud/2"]) == 0
    assert "gate runs" in capsys.readouterr().out


def _run_json(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return capsys.readouterr().out


@pytest.fixture
def changed_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """fraud/1 holds production: fitted outside shipyard on a numeric channel code and registered without a
    contract. fraud/2 is trained on the channel as text ("web", "app", "pos")."""
    home = tmp_path / "schema"
    monkeypatch.setenv("SHIPYARD_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "220")
    features = ["amount", "channel", "hour"]
    coded = transactions(rows=300, seed=1)
    coded["channel"] = coded["channel"].map({"web": 0, "app": 1, "pos": 2})
    with Registry(home=home) as registry:
        registry.register("fraud", LogisticRegression(max_iter=500).fit(coded[features], coded["fraud"]))
        registry.set_alias("fraud", "production", 1)
        registry.datasets.add("tx", transactions(rows=400))
        train(_spec("sklearn.linear_model.LogisticRegression"), registry=registry, progress=False)
    return home


@pytest.mark.parametrize("command", ["gate check", "promote"])
def test_a_champion_on_another_schema_is_not_comparable_not_a_crash(
    changed_schema: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    default = tmp_path / "default.toml"  # the default for not_comparable; a short latency measurement
    default.write_text("[gates.fraud.production]\nlatency = { repeats = 10 }\n")
    run = [*command.split(), "fraud/2", "--to", "production"]
    assert main([*run, "--policy", str(default)]) == 1
    captured = capsys.readouterr()
    assert "unexpected" not in captured.err
    assert "not comparable: fraud/1 failed to predict" in captured.out
    assert "could not convert string to float" in captured.out
    assert "fraud/2 failed the gate to production: no regression: roc_auc" in captured.out + captured.err

    skip = tmp_path / "skip.toml"
    skip.write_text(default.read_text() + 'not_comparable = "skip"\n')
    assert main([*run, "--policy", str(skip), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    report = shown["gate"] if command == "promote" else shown
    regression = next(r for r in report["results"] if r["check"] == "no regression: roc_auc")
    assert regression["status"] == "skip" and regression["detail"].startswith("not comparable: fraud/1")
    assert report["passed"] is True
    if command == "promote":
        assert (shown["alias"]["previous_version"], shown["alias"]["version"]) == (1, 2)
