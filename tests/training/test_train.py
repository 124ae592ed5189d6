"""Training from a spec: cross-validation, hold-out, slices, registration, and errors before any fit."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shipyard import InvalidInput, Registry, VersionMetadata
from shipyard.contracts import ContractViolation
from shipyard.stats import Profile
from shipyard.training import PREDICTION_COLUMN, SCORE_COLUMN, TrainSpec, reproduce, train
from tests.models import house_prices, transactions


def classification_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "model": "fraud",
        "seed": 3,
        "data": {"dataset": "tx", "target": "fraud", "exclude": ["day", "customer"]},
        "estimator": {"class": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 300}},
        "cv": {"folds": 3},
        "evaluation": {"holdout": 0.25, "slices": ["channel"], "min_slice_rows": 10},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    return spec


@pytest.fixture
def tx_registry(registry: Registry) -> Registry:
    registry.datasets.add("tx", transactions())
    return registry


def test_classification_spec_trains_evaluates_and_registers(tx_registry: Registry) -> None:
    result = train(classification_spec(), registry=tx_registry, progress=False)
    report = result.report
    assert report.task == "classification" and report.strategy == "stratified"
    assert [fold.fold for fold in report.folds] == [1, 2, 3]
    assert set(report.holdout) == {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}
    assert 0.5 < report.holdout["roc_auc"] <= 1.0  # type: ignore[operator]
    assert report.cv_summary["roc_auc"]["std"] is not None
    assert report.train_rows + report.holdout_rows == 600
    assert {item.value for item in report.slices} == {"web", "app", "pos"}
    assert sum(item.rows for item in report.slices) == report.holdout_rows
    matrix = np.array(report.confusion["matrix"])  # type: ignore[index]
    assert matrix.shape == (2, 2) and matrix.sum() == report.holdout_rows
    assert report.predict_ms_per_row > 0 and report.single_row_ms > 0

    version = result.version
    assert version is not None and version.ref == "fraud/1"
    assert version.metrics["roc_auc"] == pytest.approx(report.holdout["roc_auc"])
    assert "cv_roc_auc_mean" in version.metrics and "cv_roc_auc_std" in version.metrics
    assert version.params["max_iter"] == 300 and version.params["random_state"] == 3
    assert version.input_schema is not None
    assert [c["name"] for c in version.input_schema["columns"]] == ["amount", "channel", "hour"]
    profile = Profile.from_dict(version.profile or {})
    assert {"amount", "channel", "hour", "fraud", PREDICTION_COLUMN, SCORE_COLUMN} <= set(profile.columns)
    assert version.training is not None and version.training["spec"]["model"] == "fraud"
    assert version.lineage["datasets"]["data"] == result.dataset.sha256
    assert version.lineage["datasets"]["holdout"] == result.holdout.sha256
    assert version.lineage["seed"] == 3
    assert "## Training" in version.description and "Confusion matrix" in version.description
    loaded = tx_registry.load_model("fraud/1")
    holdout = tx_registry.datasets.load(result.holdout)
    np.testing.assert_array_equal(
        loaded.predict(holdout[report.features]), result.model.predict(holdout[report.features])
    )


def test_spec_file_with_a_relative_csv_path_versions_the_data(registry: Registry, tmp_path: Path) -> None:
    transactions(rows=300).to_csv(tmp_path / "tx.csv", index=False)
    spec = tmp_path / "spec.toml"
    spec.write_text(
        textwrap.dedent(
            """
            model = "fraud"
            seed = 1
            [data]
            path = "tx.csv"
            target = "fraud"
            features = ["amount", "channel", "hour"]
            [estimator]
            class = "sklearn.ensemble.RandomForestClassifier"
            params = { n_estimators = 20, max_depth = 4 }
            [cv]
            folds = 3
            """
        )
    )
    result = train(spec, registry=registry, progress=False)
    assert result.dataset.ref == "tx/1" and result.holdout.ref == "tx.holdout/1"
    again = train(spec, registry=registry, progress=False)
    assert again.dataset.ref == "tx/1", "the same file is the same dataset version"
    assert again.version is not None and again.version.version == 2
    assert again.report.holdout == result.report.holdout, "same spec, same data, same seed: same metrics"


def test_regression_with_kfold_and_default_metrics(registry: Registry) -> None:
    registry.datasets.add("houses", house_prices())
    spec = {
        "model": "price",
        "data": {"dataset": "houses", "target": "price"},
        "estimator": {"class": "sklearn.linear_model.Ridge"},
    }
    result = train(spec, registry=registry, progress=False)
    assert result.report.task == "regression" and result.report.strategy == "kfold"
    assert set(result.report.holdout) == {"rmse", "mae", "r2"}
    assert result.report.holdout["r2"] > 0.9  # type: ignore[operator]
    assert result.report.confusion is None


def test_group_and_time_series_strategies(tx_registry: Registry) -> None:
    grouped = train(
        classification_spec(cv={"strategy": "group", "group_column": "customer"}),
        registry=tx_registry,
        register=False,
        progress=False,
    )
    assert grouped.report.strategy == "group"
    timed = train(
        classification_spec(cv={"strategy": "timeseries", "time_column": "day"}),
        registry=tx_registry,
        register=False,
        progress=False,
    )
    assert timed.report.strategy == "timeseries"
    assert timed.version is None
    holdout = tx_registry.datasets.load(timed.holdout)
    training_days = tx_registry.datasets.load("tx")["day"].sort_values()
    assert holdout["day"].min() == training_days.iloc[-len(holdout)], "the hold-out is the latest rows"


def test_xgboost_and_lightgbm_estimators_train_and_load(tx_registry: Registry) -> None:
    for path, params in (
        ("xgboost.XGBClassifier", {"n_estimators": 20, "max_depth": 3}),
        ("lightgbm.LGBMClassifier", {"n_estimators": 20, "verbose": -1}),
    ):
        result = train(
            classification_spec(estimator={"class": path, "params": params}),
            registry=tx_registry,
            progress=False,
        )
        assert result.version is not None
        loaded = tx_registry.load_model(result.version.ref)
        frame = tx_registry.datasets.load(result.holdout)[result.report.features]
        np.testing.assert_array_equal(loaded.predict(frame), result.model.predict(frame))


def test_representativeness_warnings(registry: Registry) -> None:
    frame = transactions(rows=400)
    frame.loc[frame.index[-6:], "channel"] = "kiosk"  # only at the end: lands in a time-ordered hold-out
    registry.datasets.add("tx", frame)
    result = train(
        classification_spec(
            cv={"strategy": "timeseries", "time_column": "day"},
            evaluation={"slices": ["channel"], "min_slice_rows": 30, "holdout": 0.2},
        ),
        registry=registry,
        register=False,
        progress=False,
    )
    warnings = " | ".join(result.report.warnings)
    assert "never seen in training: 'kiosk' (6 row(s))" in warnings
    assert "slice channel = kiosk has 6 hold-out row(s), fewer than 30" in warnings


def _error(registry: Registry, spec: dict[str, Any]) -> str:
    with pytest.raises(InvalidInput) as caught:
        train(spec, registry=registry, progress=False)
    assert registry.list_models() == [], "nothing is registered when training cannot start"
    return str(caught.value)


def test_bad_columns_are_named_before_training(tx_registry: Registry) -> None:
    assert "target column(s) 'is_fraud'" in _error(
        tx_registry, classification_spec(data={"target": "is_fraud"})
    )
    message = _error(tx_registry, classification_spec(data={"features": ["amount", "chanel"]}))
    assert "'chanel' (did you mean 'channel'?)" in message
    assert "slice column(s) 'region'" in _error(
        tx_registry, classification_spec(evaluation={"slices": ["region"]})
    )


def test_nan_target_and_non_numeric_regression_target_are_refused(registry: Registry) -> None:
    frame = transactions(rows=100).astype({"fraud": float})
    frame.loc[[3, 8], "fraud"] = np.nan
    registry.datasets.add("gaps", frame)
    assert "2 missing value(s) (rows 3, 8)" in _error(registry, classification_spec(data={"dataset": "gaps"}))
    registry.datasets.add("tx", transactions(rows=100))
    message = _error(
        registry,
        classification_spec(task="regression", data={"target": "channel", "exclude": ["day"]}, cv={}),
    )
    assert "regression needs a numeric target" in message


def test_class_smaller_than_the_folds_is_refused(registry: Registry) -> None:
    frame = transactions(rows=200)
    frame["fraud"] = 0
    frame.loc[[0, 1, 2, 3], "fraud"] = 1
    registry.datasets.add("rare", frame)
    message = _error(registry, classification_spec(data={"dataset": "rare"}, cv={"folds": 5}))
    assert "class 1 has" in message and "needs at least 5" in message


@pytest.mark.parametrize(
    ("estimator", "message"),
    [
        ("sklearn.linear_model.LogisticRegresion", "has no 'LogisticRegresion'"),
        ("nosuchpackage.Model", "cannot import module 'nosuchpackage'"),
        ("LogisticRegression", "not an import path"),
        ("builtins.dict", "has no fit()/predict()"),
    ],
)
def test_bad_estimator_paths_are_named(tx_registry: Registry, estimator: str, message: str) -> None:
    assert message in _error(tx_registry, classification_spec(estimator={"class": estimator, "params": {}}))


def test_unknown_metric_and_invalid_spec_are_refused(tx_registry: Registry) -> None:
    assert "unknown classification metric(s) 'rmse'" in _error(
        tx_registry, classification_spec(evaluation={"metrics": ["rmse"]})
    )
    with pytest.raises(InvalidInput, match=r"cv\.folds"):
        TrainSpec.load(classification_spec(cv={"folds": 1}))
    with pytest.raises(InvalidInput, match="exactly one of data.dataset or data.path"):
        TrainSpec.load(classification_spec(data={"path": "x.csv"}))


def test_a_user_contract_is_enforced_on_the_training_rows(tx_registry: Registry, tmp_path: Path) -> None:
    result = train(classification_spec(), registry=tx_registry, register=False, progress=False)
    tightened = result.contract.to_yaml()
    contract_file = tmp_path / "contract.yaml"
    contract_file.write_text(tightened.replace("maximum: null", "maximum: 50.0", 1))
    with pytest.raises(ContractViolation, match="above_maximum"):
        train(
            classification_spec(data={"contract": str(contract_file)}), registry=tx_registry, progress=False
        )


def test_reproduce_reruns_the_recorded_spec_and_compares(tx_registry: Registry) -> None:
    version = train(classification_spec(), registry=tx_registry, progress=False).version
    assert version is not None
    outcome = reproduce(version.ref, registry=tx_registry)
    assert outcome.matches, outcome.to_dict()
    assert {m.name for m in outcome.metrics} == set(version.metrics)

    tampered = tx_registry.register(
        "fraud",
        tx_registry.load_model(version.ref).native,
        metadata=VersionMetadata(
            metrics={**version.metrics, "accuracy": 0.01},
            training=version.training,
            datasets=version.lineage["datasets"],
        ),
    )
    mismatch = reproduce(tampered.ref, registry=tx_registry)
    assert not mismatch.matches
    assert [m.name for m in mismatch.metrics if not m.matches(1e-6)] == ["accuracy"]


def test_reproducing_a_version_without_a_spec_is_explained(tx_registry: Registry) -> None:
    from sklearn.dummy import DummyClassifier

    tx_registry.register("plain", DummyClassifier().fit([[0], [1]], [0, 1]))
    with pytest.raises(InvalidInput, match="not trained from a spec"):
        reproduce("plain/1", registry=tx_registry)


def test_csv_column_with_text_among_numbers_is_refused_with_its_lines(
    registry: Registry, tmp_path: Path
) -> None:
    frame = transactions(rows=120)
    frame["amount"] = frame["amount"].round(2).astype(object)
    frame.loc[[9, 40], "amount"] = "unknown"
    frame.to_csv(tmp_path / "tx.csv", index=False)
    spec = classification_spec(data={"dataset": None, "path": str(tmp_path / "tx.csv"), "name": "tx"})
    message = _error(registry, spec)
    assert "column 'amount' is mostly numbers but has text on CSV line(s) 11, 42" in message
