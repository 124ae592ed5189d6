"""The lightgbm format: the text model plus recorded labels predicts exactly like the wrapper did."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidInput
from shipyard.flavors import LoadedModel, flavor_for_file, flavor_for_object, get_flavor

lightgbm = pytest.importorskip("lightgbm")

NUMERIC = ["age", "income", "score"]


@pytest.fixture(scope="module")
def classifier(numeric_table: pd.DataFrame, string_labels: np.ndarray) -> lightgbm.LGBMClassifier:
    return lightgbm.LGBMClassifier(n_estimators=20, num_leaves=7, verbose=-1).fit(
        numeric_table, string_labels
    )


@pytest.fixture(scope="module")
def saved(classifier: lightgbm.LGBMClassifier, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    result = get_flavor("lightgbm").save(classifier, tmp_path_factory.mktemp("lightgbm"))
    return result.path, result.metadata


@pytest.fixture(scope="module")
def loaded_classifier(saved: tuple[Path, dict]) -> LoadedModel:
    path, metadata = saved
    return get_flavor("lightgbm").load(path, json.loads(json.dumps(metadata)))


def test_lightgbm_classifier_with_string_labels_round_trip_predicts_identically(
    classifier: lightgbm.LGBMClassifier, loaded_classifier: LoadedModel, numeric_table: pd.DataFrame
) -> None:
    np.testing.assert_array_equal(loaded_classifier.predict(numeric_table), classifier.predict(numeric_table))
    probabilities = loaded_classifier.predict_proba(numeric_table)
    assert probabilities.shape == (len(numeric_table), 2)
    np.testing.assert_allclose(probabilities, classifier.predict_proba(numeric_table))


def test_lightgbm_classifier_gives_labels_and_probabilities_from_one_pass(
    loaded_classifier: LoadedModel, numeric_table: pd.DataFrame
) -> None:
    labels, probabilities = loaded_classifier.predict_with_proba(numeric_table)
    expected = loaded_classifier.predict(numeric_table)
    np.testing.assert_array_equal(labels, expected)
    assert labels.dtype == expected.dtype
    np.testing.assert_array_equal(probabilities, loaded_classifier.predict_proba(numeric_table))


def test_lightgbm_metadata_records_kind_labels_and_features(saved: tuple[Path, dict]) -> None:
    _, metadata = saved
    assert metadata["kind"] == "LGBMClassifier"
    assert metadata["classes"] == ["approve", "reject"]
    assert metadata["feature_names"] == NUMERIC
    assert json.loads(json.dumps(metadata)) == metadata


def test_lightgbm_classifier_describes_labels_and_features(loaded_classifier: LoadedModel) -> None:
    assert loaded_classifier.describe().to_dict() == {
        "task": "classification",
        "classes": ["approve", "reject"],
        "feature_names": NUMERIC,
        "n_features": 3,
    }


def test_lightgbm_multiclass_with_gapped_integer_labels_predicts_identically(
    numeric_table: pd.DataFrame, three_classes: np.ndarray, tmp_path: Path
) -> None:
    labels = np.array([10, 20, 70])[three_classes]
    model = lightgbm.LGBMClassifier(n_estimators=10, num_leaves=7, verbose=-1).fit(numeric_table, labels)
    flavor = get_flavor("lightgbm")
    saved = flavor.save(model, tmp_path)
    loaded = flavor.load(saved.path, json.loads(json.dumps(saved.metadata)))
    np.testing.assert_array_equal(loaded.predict(numeric_table), model.predict(numeric_table))
    np.testing.assert_allclose(loaded.predict_proba(numeric_table), model.predict_proba(numeric_table))
    assert loaded.describe().classes == [10, 20, 70]


def test_lightgbm_regressor_round_trip_predicts_identically(
    numeric_table: pd.DataFrame, target: np.ndarray, tmp_path: Path
) -> None:
    model = lightgbm.LGBMRegressor(n_estimators=10, num_leaves=7, verbose=-1).fit(
        numeric_table.to_numpy(), target
    )
    flavor = get_flavor("lightgbm")
    saved = flavor.save(model, tmp_path)
    assert saved.metadata["feature_names"] is None
    loaded = flavor.load(saved.path, saved.metadata)
    np.testing.assert_array_equal(loaded.predict(numeric_table), model.predict(numeric_table.to_numpy()))
    assert loaded.describe().to_dict() == {
        "task": "regression",
        "classes": None,
        "feature_names": None,
        "n_features": 3,
    }


def test_lightgbm_binary_booster_predicts_labels_and_its_own_probabilities(
    numeric_table: pd.DataFrame, string_labels: np.ndarray, tmp_path: Path
) -> None:
    training = lightgbm.Dataset(numeric_table, label=(string_labels == "approve").astype(int))
    booster = lightgbm.train(
        {"objective": "binary", "num_leaves": 7, "verbose": -1}, training, num_boost_round=10
    )
    flavor = get_flavor("lightgbm")
    saved = flavor.save(booster, tmp_path)
    assert saved.metadata["kind"] == "Booster"
    loaded = flavor.load(saved.path, saved.metadata)
    expected = booster.predict(numeric_table)
    np.testing.assert_array_equal(loaded.predict_proba(numeric_table)[:, 1], expected)
    np.testing.assert_array_equal(loaded.predict(numeric_table), (expected > 0.5).astype(int))
    labels, probabilities = loaded.predict_with_proba(numeric_table)
    np.testing.assert_array_equal(labels, loaded.predict(numeric_table))
    np.testing.assert_array_equal(probabilities, loaded.predict_proba(numeric_table))
    assert loaded.describe().classes == [0, 1]


def test_lightgbm_is_detected_from_the_object_and_from_its_file(
    classifier: lightgbm.LGBMClassifier, saved: tuple[Path, dict]
) -> None:
    assert flavor_for_object(classifier).name == "lightgbm"
    assert flavor_for_file(saved[0]).name == "lightgbm"


def test_users_text_model_is_inspected_as_a_booster_with_its_feature_names(
    classifier: lightgbm.LGBMClassifier, numeric_table: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "model.txt"
    classifier.booster_.save_model(path)
    flavor = flavor_for_file(path)
    metadata = flavor.inspect_file(path)
    assert metadata == {"kind": "Booster", "classes": None, "feature_names": NUMERIC}
    loaded = flavor.load(path, metadata)
    np.testing.assert_allclose(loaded.predict_proba(numeric_table), classifier.predict_proba(numeric_table))


def test_unfitted_lightgbm_classifier_is_refused_as_not_fitted() -> None:
    with pytest.raises(InvalidInput, match=r"LGBMClassifier is not fitted"):
        flavor_for_object(lightgbm.LGBMClassifier())
