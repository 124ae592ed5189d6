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


def test_xgboost_classifier_reads_labels_and_probabilities_off_one_booster_pass(
    classifier: xgboost.XGBClassifier, saved_classifier: Path, numeric_table: pd.DataFrame
) -> None:
    loaded = get_flavor("xgboost").load(saved_classifier, {"kind": "XGBClassifier"})
    expected_labels, expected_probabilities = (
        loaded.predict(numeric_table),
        loaded.predict_proba(numeric_table),
    )
    loaded.native.predict = None  # never called: the labels come from the probabilities
    labels, probabilities = loaded.predict_with_proba(numeric_table)
    np.testing.assert_array_equal(labels, expected_labels)
    assert labels.dtype == expected_labels.dtype
    np.testing.assert_array_equal(probabilities, expected_probabilities)


@pytest.mark.parametrize("seed", range(3))
def test_binary_xgboost_classifier_single_pass_matches_its_predict(seed: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(300, 4))
    labels = (features[:, 0] + rng.normal(scale=0.5, size=300) > 0).astype(int)
    flavor = get_flavor("xgboost")
    saved = flavor.save(xgboost.XGBClassifier(n_estimators=10).fit(features, labels), tmp_path)
    loaded = flavor.load(saved.path, saved.metadata)
    found, probabilities = loaded.predict_with_proba(features)
    np.testing.assert_array_equal(found, loaded.predict(features))
    np.testing.assert_array_equal(probabilities, loaded.predict_proba(features))


def test_multi_label_xgboost_classifier_keeps_two_calls(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 3))
    labels = np.column_stack([features[:, 0] > 0, features[:, 1] > 0]).astype(int)
    flavor = get_flavor("xgboost")
    saved = flavor.save(
        xgboost.XGBClassifier(n_estimators=5, tree_method="hist").fit(features, labels), tmp_path
    )
    loaded = flavor.load(saved.path, saved.metadata)
    found, probabilities = loaded.predict_with_proba(features)
    np.testing.assert_array_equal(found, loaded.predict(features))  # one 0/1 column per label
    np.testing.assert_array_equal(probabilities, loaded.predict_proba(features))


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
    labels, probabilities = loaded.predict_with_proba(numeric_table)
    np.testing.assert_array_equal(labels, loaded.predict(numeric_table))
    np.testing.assert_array_equal(probabilities, loaded.predict_proba(numeric_table))
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
