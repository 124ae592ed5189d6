"""A champion that cannot score the candidate's rows (a changed schema, a broken artifact) makes the
comparison checks "not comparable" — failed by default, skipped by policy — never a crash; a model that
raises in a behavioural check fails that check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from shipyard import GateFailed, Registry
from shipyard.gates import GatePolicy, check_gate, promote
from shipyard.training import train
from tests.models import transactions

FEATURES = ["amount", "channel", "hour"]
CHANNEL_CODES = {"web": 0, "app": 1, "pos": 2}
QUICK = {"latency": {"repeats": 10}}  # the default timing run is not what these tests are about


def policy(**rules: Any) -> GatePolicy:
    """The default policy (comparisons that cannot run fail) with a short latency measurement."""
    return GatePolicy.model_validate({**QUICK, **rules})


def spec(features: list[str], dataset: str) -> dict[str, Any]:
    return {
        "model": "fraud",
        "seed": 3,
        "data": {"dataset": dataset, "target": "fraud", "features": features},
        "estimator": {"class": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 500}},
        "cv": {"folds": 2},
    }


def coded(frame: pd.DataFrame) -> pd.DataFrame:
    """The same rows with the channel as a number: the schema before the candidate's change."""
    return frame.assign(channel=frame["channel"].map(CHANNEL_CODES))


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    with Registry(home=tmp_path / "ws") as opened:
        frame = transactions(rows=400)
        opened.datasets.add("tx", frame)
        opened.datasets.add("tx_coded", coded(frame))
        opened.datasets.add("tx_renamed", frame.rename(columns={"amount": "value"}))
        yield opened


def statuses(report: Any) -> dict[str, str]:
    return {result.check: result.status for result in report.results}


def details(report: Any) -> dict[str, str]:
    return {result.check: result.detail for result in report.results}


def register_numeric_champion(registry: Registry) -> None:
    """fraud/1 holds production: fitted outside shipyard on numeric columns, registered without a contract."""
    frame = coded(transactions(rows=300, seed=1))
    model = LogisticRegression(max_iter=500).fit(frame[FEATURES], frame["fraud"])
    registry.register("fraud", model)
    registry.set_alias("fraud", "production", 1)


def test_champion_that_cannot_read_a_text_category_makes_comparisons_fail(registry: Registry) -> None:
    register_numeric_champion(registry)
    train(spec(FEATURES, "tx"), registry=registry, progress=False)  # fraud/2: channel is "web"/"app"/"pos"
    report = check_gate(registry, "fraud/2", "production", policy=policy())
    assert statuses(report)["no regression: roc_auc"] == "fail"
    reason = details(report)["no regression: roc_auc"]
    assert reason.startswith("not comparable: fraud/1 failed to predict")
    assert "ValueError: could not convert string to float" in reason
    assert any("cannot be compared" in note for note in report.notes)
    assert report.evaluation_rows > 0, "the candidate's own checks still ran"
    with pytest.raises(GateFailed, match="no regression: roc_auc"):
        promote(registry, "fraud/2", "production", policy=policy())

    skip = policy(not_comparable="skip", metrics={"roc_auc": ">= 0.5"})
    report = check_gate(registry, "fraud/2", "production", policy=skip)
    assert statuses(report)["no regression: roc_auc"] == "skip"
    assert statuses(report)["metric roc_auc"] == "pass" and report.passed
    report, change = promote(registry, "fraud/2", "production", policy=skip)
    assert report.passed and change.version == 2


def test_champion_whose_contract_rejects_every_row_is_not_comparable(registry: Registry) -> None:
    train(spec(FEATURES, "tx_coded"), registry=registry, progress=False)  # fraud/1: channel is an integer
    promote(registry, "fraud/1", "production", policy=policy())
    train(spec(FEATURES, "tx"), registry=registry, progress=False)
    slices = {"columns": ["channel"], "tolerance": 0.1, "min_rows": 5}
    report = check_gate(registry, "fraud/2", "production", policy=policy(slices=slices))
    assert statuses(report)["schema compatibility"] == "fail"
    assert report.results[2].check == "schema compatibility", "the schema is judged before any scoring"
    assert statuses(report)["no regression: roc_auc"] == "fail"
    reason = details(report)["no regression: roc_auc"]
    assert reason.startswith("not comparable: no evaluation row meets fraud/1's contract")
    assert statuses(report)["slice channel = pos: vs champion"] == "fail"

    skipped = policy(slices=slices, not_comparable="skip")
    report = check_gate(registry, "fraud/2", "production", policy=skipped)
    assert statuses(report)["no regression: roc_auc"] == "skip"
    assert statuses(report)["slice channel = pos: vs champion"] == "skip"


def test_renamed_column_leaves_the_candidates_own_checks_running(registry: Registry) -> None:
    train(spec(FEATURES, "tx"), registry=registry, progress=False)
    promote(registry, "fraud/1", "production", policy=policy())
    train(spec(["value", "channel", "hour"], "tx_renamed"), registry=registry, progress=False)
    report = check_gate(registry, "fraud/2", "production", policy=policy(metrics={"roc_auc": ">= 0.5"}))
    assert statuses(report)["schema compatibility"] == "fail"
    assert statuses(report)["metric roc_auc"] == "pass"
    assert statuses(report)["no regression: roc_auc"] == "fail"
    assert "fraud/1's contract rejects the evaluation data" in details(report)["no regression: roc_auc"]
    assert "amount" in details(report)["no regression: roc_auc"]


def test_champion_whose_artifact_cannot_be_loaded_is_not_comparable(registry: Registry) -> None:
    train(spec(FEATURES, "tx"), registry=registry, progress=False)
    promote(registry, "fraud/1", "production", policy=policy())
    train(spec(FEATURES, "tx"), registry=registry, progress=False)
    champion = registry.resolve("fraud/1")
    stored = Path(registry.artifacts.object_path(champion.artifact_sha256))
    stored.write_bytes(stored.read_bytes()[:-20])
    report = check_gate(registry, "fraud/2", "production", policy=policy())
    assert statuses(report)["no regression: roc_auc"] == "fail"
    assert details(report)["no regression: roc_auc"].startswith("not comparable: fraud/1 cannot be loaded")
    assert statuses(report)["artifact integrity"] == "pass", "the candidate's own artifact is intact"


def test_a_model_raising_in_a_behavioural_check_fails_that_check(registry: Registry) -> None:
    train(spec(FEATURES, "tx"), registry=registry, progress=False)
    rules = policy(
        invariance=[{"column": "amount", "values": ["not a number"]}, {"column": "hour"}],
        directional=[{"column": "channel", "delta": 1.0}],
    )
    report = check_gate(registry, "fraud/1", "production", policy=rules)
    assert statuses(report)["invariance: amount"] == "fail"
    assert details(report)["invariance: amount"].startswith("raised ValueError:")
    assert statuses(report)["directional: channel +1 increasing"] == "fail"
    assert details(report)["directional: channel +1 increasing"].startswith("raised")
    hour = next(result for result in report.results if result.check == "invariance: hour")
    assert hour.measured.startswith("max change"), "the other rules are still judged"
