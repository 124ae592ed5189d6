"""The xgboost format: scikit-learn wrappers come back as themselves, Boosters through their objective."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidInput
from shipyard.flavors import LoadedModel, flavor_for_file, flavor_for_object, get_flavor

xgboost = pytest.importorskip("xgboost")

NUMERIC = ["age", "income", "score"]


@pytest.fixture(scope="module")
def classifier(numeric_table: pd.DataFrame, three_classes: np.ndarray) -> xgboost.XGBClassifier:
    return xgboost.XGBClassifier(n_estimators=15, max_depth=3).fit(numeric_table, three_classes)


@pytest.fixture(scope="module")
def saved_classifier(classifier: xgboost.XGBClassifier, tmp_path_factory: pytest.TempPathFactory) -> Path:
    saved = get_flavor("xgboost").save(classifier, tmp_path_factory.mktemp("xgboost"))
    assert saved.metadata["kind"] == "XGBClassifier"
    return saved.path


@pytest.fixture(scope="module")
def loaded_classifier(saved_classifier: Path) -> LoadedModel:
    return get_flavor("xgboost").load(saved_classifier, {"kind": "XGBClassifier"})


def test_xgboost_classifier_round_trip_predicts_identically(
    classifier: xgboost.XGBClassifier, loaded_classifier: LoadedModel, numeric_table: pd.DataFrame
) -> None:
    np.testing.assert_array_equal(loaded_classifier.predict(numeric_table), classifier.predict(numeric_table))
    np.testing.assert_allclose(
        loaded_classifier.predict_proba(numeric_table), classifier.predict_proba(numeric_table)
    )


def test_xgboost_classifier_describes_classes_and_features(loaded_classifier: LoadedModel) -> None:
    assert loaded_classifier.describe().to_dict() == {
        "task": "classification",
        "classes": [0, 1, 2],
        "feature_names": NUMERIC,
        "n_features": 3,
    }


def test_xgboost_reorders_columns_by_name(
    classifier: xgboost.XGBClassifier, loaded_classifier: LoadedModel, numeric_table: pd.DataFrame
) -> None:
    reordered = numeric_table[["score", "age", "income"]]
    np.testing.assert_array_equal(loaded_classifier.predict(reordered), classifier.predict(numeric_table))
    np.testing.assert_array_equal(
        loaded_classifier.predict(numeric_table.to_numpy()), classifier.predict(numeric_table)
    )


def test_xgboost_regressor_round_trip_predicts_identically(
    numeric_table: pd.DataFrame, target: np.ndarray, tmp_path: Path
) -> None:
    regressor = xgboost.XGBRegressor(n_estimators=15, max_depth=3).fit(numeric_table.to_numpy(), target)
    flavor = get_flavor("xgboost")
    saved = flavor.save(regressor, tmp_path)
    loaded = flavor.load(saved.path, saved.metadata)
    np.testing.assert_array_equal(
        loaded.predict(numeric_table.to_numpy()), regressor.predict(numeric_table.to_numpy())
    )
    assert loaded.describe().task == "regression"
    assert loaded.describe().feature_names is None
    assert not loaded.has_proba


def test_xgboost_binary_booster_predicts_labels_and_its_own_probabilities(
    numeric_table: pd.DataFrame, string_labels: np.ndarray, tmp_path: Path
) -> None:
    training = xgboost.DMatrix(numeric_table, label=(string_labels == "approve").astype(int))
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 3}, training, num_boost_round=10)
    flavor = get_flavor("xgboost")
    saved = flavor.save(booster, tmp_path)
    assert saved.metadata["kind"] == "Booster"
    loaded = flavor.load(saved.path, saved.metadata)
    expected = booster.predict(xgboost.DMatrix(numeric_table))
    np.testing.assert_array_equal(loaded.predict_proba(numeric_table)[:, 1], expected)
    np.testing.assert_array_equal(loaded.predict(numeric_table), (expected > 0.5).astype(int))
    description = loaded.describe()
    assert (description.task, description.classes, description.feature_names) == (
        "classification",
        [0, 1],
        NUMERIC,
    )


def test_xgboost_regression_booster_round_trip_predicts_identically(
    numeric_table: pd.DataFrame, target: np.ndarray, tmp_path: Path
) -> None:
    training = xgboost.DMatrix(numeric_table.to_numpy(), label=target)
    booster = xgboost.train({"objective": "reg:squarederror"}, training, num_boost_round=10)
    flavor = get_flavor("xgboost")
    saved = flavor.save(booster, tmp_path)
    loaded = flavor.load(saved.path, saved.metadata)
    expected = booster.predict(xgboost.DMatrix(numeric_table.to_numpy()))
    np.testing.assert_array_equal(loaded.predict(numeric_table.to_numpy()), expected)
    assert loaded.describe().task == "regression"


def test_xgboost_wrapper_is_detected_as_xgboost_not_sklearn(
    classifier: xgboost.XGBClassifier, saved_classifier: Path
) -> None:
    assert flavor_for_object(classifier).name == "xgboost"
    assert flavor_for_file(saved_classifier).name == "xgboost"


def test_users_json_model_file_is_detected_and_inspected_as_its_class(
    classifier: xgboost.XGBClassifier, numeric_table: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "churn.json"
    classifier.save_model(path)
    flavor = flavor_for_file(path)
    assert flavor.name == "xgboost"
    metadata = flavor.inspect_file(path)
    assert metadata == {"kind": "XGBClassifier"}
    # The store may give the file any name; loading goes by content, not by extension.
    stored = tmp_path / "model.ubj"
    stored.write_bytes(path.read_bytes())
    loaded = flavor.load(stored, metadata)
    np.testing.assert_array_equal(loaded.predict(numeric_table), classifier.predict(numeric_table))


def test_unfitted_xgboost_classifier_is_refused_as_not_fitted() -> None:
    with pytest.raises(InvalidInput, match=r"XGBClassifier is not fitted"):
        flavor_for_object(xgboost.XGBClassifier())


def test_xgboost_metadata_is_json_serialisable(classifier: xgboost.XGBClassifier, tmp_path: Path) -> None:
    metadata = get_flavor("xgboost").save(classifier, tmp_path).metadata
    assert json.loads(json.dumps(metadata)) == metadata
