"""Promotion gates: checks, verdicts, promotion, and the errors that stop a gate from running."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shipyard import Conflict, GateFailed, InvalidInput, Registry
from shipyard.errors import GateError
from shipyard.gates import GatePolicy, check_gate, gate_runs, promote
from shipyard.training import train
from tests.models import transactions

ALL_FEATURES = ["amount", "channel", "hour"]


def spec(
    features: list[str] = ALL_FEATURES,
    *,
    dataset: str = "tx",
    estimator: str = "sklearn.linear_model.LogisticRegression",
    **params: Any,
) -> dict[str, Any]:
    return {
        "model": "fraud",
        "seed": 11,
        "data": {"dataset": dataset, "target": "fraud", "features": features},
        "estimator": {"class": estimator, "params": params},
        "cv": {"folds": 3},
        "evaluation": {"holdout": 0.3, "slices": ["channel"]},
    }


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[Registry]:
    """fraud/1 (a decision stump) holds production; fraud/2 (a constant) is weaker; fraud/3 is strong."""
    with Registry(home=tmp_path / "ws") as registry:
        registry.datasets.add("tx", transactions(rows=1500))
        stump = spec(estimator="sklearn.tree.DecisionTreeClassifier", max_depth=1)
        train(stump, registry=registry, progress=False)
        promote(registry, "fraud/1", "production")
        train(spec(estimator="sklearn.dummy.DummyClassifier"), registry=registry, progress=False)
        train(spec(max_iter=500), registry=registry, progress=False)
        yield registry


def statuses(report: Any) -> dict[str, str]:
    return {result.check: result.status for result in report.results}


def test_first_promotion_skips_comparisons_and_says_so(tmp_path: Path) -> None:
    with Registry(home=tmp_path / "ws") as registry:
        registry.datasets.add("tx", transactions(rows=400))
        train(spec(max_iter=500), registry=registry, progress=False)
        report, change = promote(registry, "fraud/1", "production")
    assert report.passed and report.champion is None
    assert statuses(report)["no regression: roc_auc"] == "skip"
    assert statuses(report)["schema compatibility"] == "skip"
    assert "has no holder yet" in report.notes[0]
    assert (change.action, change.version) == ("promote", 1)


def test_weaker_candidate_fails_and_the_alias_does_not_move(gated: Registry) -> None:
    report = check_gate(gated, "fraud/2", "production")
    assert not report.passed
    assert statuses(report)["no regression: roc_auc"] == "fail"
    with pytest.raises(GateFailed, match="fraud/2 failed the gate to production: no regression: roc_auc"):
        promote(gated, "fraud/2", "production")
    assert gated.resolve("fraud@production").version == 1
    runs = gate_runs(gated, "fraud/2")
    assert [(run["passed"], run["promoted"]) for run in runs] == [(False, False), (False, False)]


def test_stronger_candidate_passes_and_is_promoted_with_an_audit_entry(gated: Registry) -> None:
    report, change = promote(gated, "fraud/3", "production", reason="better on every slice")
    assert report.passed, [r for r in report.results if r.status == "fail"]
    assert report.champion == "fraud/1" and report.evaluation_data == "tx.holdout/1"
    assert statuses(report)["artifact integrity"] == "pass"
    assert (change.previous_version, change.version, change.action) == (1, 3, "promote")
    event = gated.audit(action="alias.")[-1]
    assert (event.action, event.reason) == ("alias.promote", "better on every slice")
    assert gate_runs(gated, "fraud/3")[-1]["promoted"] is True
    assert gated.rollback("fraud@production").version == 1, "a promotion is undone like any alias move"


def test_forced_promotion_needs_a_reason_and_says_so_in_the_audit(gated: Registry) -> None:
    with pytest.raises(InvalidInput, match="needs a reason"):
        promote(gated, "fraud/2", "production", force=True)
    report, change = promote(gated, "fraud/2", "production", force=True, reason="hotfix approved by risk")
    assert not report.passed and change.action == "promote.forced"
    event = gated.audit(action="alias.")[-1]
    assert event.action == "alias.promote.forced"
    assert event.reason.startswith("FORCED past failed checks (no regression: roc_auc): hotfix approved")
    assert gate_runs(gated, "fraud/2")[-1]["forced"] is True


def test_metric_thresholds_come_from_shipyard_toml(gated: Registry) -> None:
    config = gated.settings.home / "shipyard.toml"
    config.write_text(
        textwrap.dedent(
            """
            [gates.fraud.production]
            metrics = { roc_auc = ">= 0.99", accuracy = ">= 0.5" }
            """
        )
    )
    report = check_gate(gated, "fraud/3", "production")
    assert report.policy.startswith("[gates.fraud.production]")
    assert statuses(report)["metric roc_auc"] == "fail" and statuses(report)["metric accuracy"] == "pass"
    roc = next(r for r in report.results if r.check == "metric roc_auc")
    assert roc.threshold == ">= 0.99" and float(roc.measured) < 0.99


def test_paired_bootstrap_keeps_noise_from_being_called_a_regression(gated: Registry) -> None:
    train(spec(max_iter=500, C=0.9), registry=gated, progress=False)  # fraud/4: almost fraud/3
    promote(gated, "fraud/3", "production")
    plain = check_gate(gated, "fraud/4", "production", policy=GatePolicy.model_validate({"regression": {}}))
    noisy = next(r for r in plain.results if r.check == "no regression: roc_auc")
    booted = check_gate(
        gated,
        "fraud/4",
        "production",
        policy=GatePolicy.model_validate({"regression": {"bootstrap": {"samples": 300}}}),
    )
    result = next(r for r in booted.results if r.check == "no regression: roc_auc")
    assert result.status == "pass" and "95% interval of the gain" in result.detail
    assert noisy.measured == result.measured
    worse = check_gate(
        gated, "fraud/2", "production", policy=GatePolicy.model_validate({"regression": {"bootstrap": {}}})
    )
    assert statuses(worse)["no regression: roc_auc"] == "fail", "a real regression is still caught"


def test_slice_floor_and_tolerance_against_the_champion(gated: Registry) -> None:
    promote(gated, "fraud/3", "production")
    policy = GatePolicy.model_validate(
        {"slices": {"floor": {"accuracy": 0.99}, "tolerance": 0.0, "min_rows": 5}, "regression": None}
    )
    report = check_gate(gated, "fraud/2", "production", policy=policy)
    by_check = statuses(report)
    assert {"slice channel = web: accuracy", "slice channel = app: accuracy"} <= set(by_check)
    assert by_check["slice channel = web: accuracy"] == "fail"
    assert by_check["slice channel = web: roc_auc vs champion"] == "fail"


def test_behavioural_invariance_and_directional_tests(gated: Registry) -> None:
    policy = GatePolicy.model_validate(
        {
            "regression": None,
            "invariance": [{"column": "customer"}, {"column": "amount"}],
            "directional": [
                {"column": "amount", "delta": 50.0, "direction": "increasing"},
                {"column": "amount", "delta": 50.0, "direction": "decreasing"},
            ],
        }
    )
    results = statuses(check_gate(gated, "fraud/3", "production", policy=policy))
    assert results["invariance: customer"] == "pass", "a column the model does not use changes nothing"
    assert results["invariance: amount"] == "fail"
    assert results["directional: amount +50 increasing"] == "pass"
    assert results["directional: amount +50 decreasing"] == "fail"


def test_user_written_test_functions(
    gated: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fraud_checks.py").write_text(
        textwrap.dedent(
            """
            def small_amounts_are_mostly_legit(model, data):
                assert model.predict(data[data.amount < 5][["amount", "channel", "hour"]]).mean() < 0.9

            def always_false(model, data):
                return False

            def asserts(model, data):
                assert 1 == 2, "one is not two"
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    policy = GatePolicy.model_validate(
        {
            "regression": None,
            "tests": [
                "fraud_checks:small_amounts_are_mostly_legit",
                "fraud_checks:always_false",
                "fraud_checks:asserts",
            ],
        }
    )
    report = check_gate(gated, "fraud/3", "production", policy=policy)
    results = {r.check: r for r in report.results}
    assert results["test fraud_checks:small_amounts_are_mostly_legit"].status == "pass"
    assert results["test fraud_checks:always_false"].detail == "returned False"
    assert results["test fraud_checks:asserts"].detail == "one is not two"
    with pytest.raises(GateError, match="cannot be imported"):
        check_gate(gated, "fraud/3", "production", policy=GatePolicy.model_validate({"tests": ["nope:fn"]}))


def test_latency_budget_and_artifact_size(gated: Registry) -> None:
    strict = GatePolicy.model_validate(
        {
            "regression": None,
            "latency": {"p99_single_ms": 1e-6, "repeats": 20},
            "artifact": {"max_size_mb": 1e-6},
        }
    )
    results = statuses(check_gate(gated, "fraud/3", "production", policy=strict))
    assert results["latency p99, 1 row"] == "fail" and results["artifact size"] == "fail"
    relaxed = GatePolicy.model_validate(
        {"regression": None, "latency": {"p99_single_ms": 5000, "p99_batch_ms": 5000, "repeats": 20}}
    )
    results = statuses(check_gate(gated, "fraud/3", "production", policy=relaxed))
    assert results["latency p99, 1 row"] == "pass" and results["latency p99, 100 rows"] == "pass"


def test_corrupted_candidate_fails_integrity(gated: Registry) -> None:
    version = gated.resolve("fraud/3")
    stored = Path(gated.artifacts.object_path(version.artifact_sha256))
    data = bytearray(stored.read_bytes())
    data[100] ^= 0xFF
    stored.write_bytes(bytes(data))
    report = check_gate(gated, "fraud/3", "production")
    assert statuses(report) == {"artifact integrity": "fail", "artifact size": "pass"}


def test_breaking_schema_change_fails_and_unscorable_data_is_a_failed_check(gated: Registry) -> None:
    frame = transactions(rows=1500)
    frame["merchant_risk"] = frame["amount"] % 7
    gated.datasets.add("tx2", frame)
    train(spec([*ALL_FEATURES, "merchant_risk"], dataset="tx2", max_iter=500), registry=gated, progress=False)
    report = check_gate(gated, "fraud/4", "production")
    schema = next(r for r in report.results if r.check == "schema compatibility")
    assert schema.status == "fail" and "new required column 'merchant_risk'" in schema.detail

    on_champion_data = GatePolicy.model_validate({"evaluation_data": "tx.holdout/1"})
    report = check_gate(gated, "fraud/4", "production", policy=on_champion_data)
    scoring = next(r for r in report.results if r.check == "candidate can score the evaluation data")
    assert scoring.status == "fail" and "missing_column" in scoring.measured
    assert not any(r.check.startswith("no regression") for r in report.results)


def test_policies_naming_unknown_metrics_or_columns_are_refused_at_load(gated: Registry) -> None:
    config = gated.settings.home / "shipyard.toml"
    config.write_text('[gates."*".production]\nmetrics = { auc = ">= 0.8" }\n')
    with pytest.raises(GateError, match=r"unknown metric\(s\) auc; known metrics: accuracy"):
        check_gate(gated, "fraud/3", "production")
    config.write_text('[gates.fraud.production]\nmetrics = { roc_auc = "at least 0.8" }\n')
    with pytest.raises(GateError, match="must look like '>= 0.85'"):
        check_gate(gated, "fraud/3", "production")
    config.write_text('[gates.fraud.production]\ninvariance = [{ column = "region" }]\n')
    with pytest.raises(GateError, match="unknown column\\(s\\) region; the evaluation data has: amount"):
        check_gate(gated, "fraud/3", "production")


def test_gate_cannot_run_without_evaluation_data(gated: Registry) -> None:
    from sklearn.dummy import DummyClassifier

    gated.register("fraud", DummyClassifier().fit([[0], [1]], [0, 1]))  # fraud/4: no training record
    with pytest.raises(GateError, match="has no hold-out data"):
        check_gate(gated, "fraud/4", "production")
    with pytest.raises(GateError, match="already holds"):
        check_gate(gated, "fraud/1", "production")


def test_an_alias_moved_during_the_decision_is_a_conflict(gated: Registry) -> None:
    with pytest.raises(Conflict, match="moved to v1 while this change was being decided"):
        gated.set_alias("fraud", "production", 3, action="promote", expect_current=2)
    assert gated.resolve("fraud@production").version == 1


@pytest.mark.parametrize("text", [">= ٠.٨", ">= 0.8\u00b2", "> ３"])
def test_a_threshold_is_written_in_ascii_digits(text: str) -> None:
    from shipyard.gates.policy import Threshold

    with pytest.raises(ValueError, match="must look like '>= 0.85'"):
        Threshold.parse(text, "roc_auc")
    assert Threshold.parse(">= 0.8", "roc_auc").value == 0.8
