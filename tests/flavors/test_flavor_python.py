"""The python format: anything with predict() round-trips, but loading a pickle always needs trust."""

from __future__ import annotations

import pickle
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from shipyard.errors import InvalidInput, Unauthorized
from shipyard.flavors import flavor_for_file, flavor_for_object, get_flavor


class RuleModel:
    """A hand-written classifier, shaped like a scikit-learn one."""

    def __init__(self) -> None:
        self.classes_ = np.array(["reject", "approve"])
        self.feature_names_in_ = np.array(["age", "score"])

    def predict_proba(self, data: pd.DataFrame) -> np.ndarray:
        approve = np.clip((data["age"].to_numpy() - 20) / 50 + data["score"].to_numpy() / 2, 0, 1)
        return np.column_stack([1 - approve, approve])

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(data), axis=1)]


def test_python_model_round_trip_predicts_identically(table: pd.DataFrame, tmp_path: Path) -> None:
    model = RuleModel()
    flavor = get_flavor("python")
    saved = flavor.save(model, tmp_path)
    assert saved.metadata["serializer"] == "cloudpickle"
    assert saved.metadata["class"] == f"{__name__}.RuleModel"
    loaded = flavor.load(saved.path, saved.metadata, trust=True)
    np.testing.assert_array_equal(loaded.predict(table), model.predict(table))
    np.testing.assert_allclose(loaded.predict_proba(table), model.predict_proba(table))


def test_python_metadata_names_the_distribution_of_the_models_class(
    numeric_table: pd.DataFrame, string_labels: np.ndarray, tmp_path: Path
) -> None:
    model = LogisticRegression().fit(numeric_table, string_labels)
    saved = get_flavor("python").save(model, tmp_path)
    assert saved.metadata["packages"] == ["scikit-learn"]


def test_python_model_describes_itself_from_its_attributes(tmp_path: Path) -> None:
    flavor = get_flavor("python")
    loaded = flavor.load(flavor.save(RuleModel(), tmp_path).path, {}, trust=True)
    assert loaded.describe().to_dict() == {
        "task": "classification",
        "classes": ["reject", "approve"],
        "feature_names": ["age", "score"],
        "n_features": 2,
    }


def test_python_model_without_attributes_has_unknown_task_and_gets_input_as_given(tmp_path: Path) -> None:
    def make_model(offset: float) -> object:
        class Shifted:  # defined locally: cloudpickle stores the class by value
            def predict(self, data: np.ndarray) -> np.ndarray:
                return np.asarray(data).sum(axis=1) + offset

        return Shifted()

    flavor = get_flavor("python")
    loaded = flavor.load(flavor.save(make_model(1.5), tmp_path).path, {}, trust=True)
    np.testing.assert_array_equal(loaded.predict(np.ones((3, 2))), [3.5, 3.5, 3.5])
    assert loaded.describe().task == "unknown"
    assert not loaded.has_proba


def test_loading_python_format_without_trust_is_unauthorized(tmp_path: Path) -> None:
    flavor = get_flavor("python")
    path = flavor.save(RuleModel(), tmp_path).path
    with pytest.raises(Unauthorized) as caught:
        flavor.load(path, {})
    message = str(caught.value)
    assert "can execute arbitrary code when loaded" in message
    assert "trust=True (Python) or --trust (CLI)" in message


def test_users_joblib_file_is_detected_as_python_and_loads_with_trust(
    numeric_table: pd.DataFrame, string_labels: np.ndarray, tmp_path: Path
) -> None:
    model = LogisticRegression().fit(numeric_table, string_labels)
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    flavor = flavor_for_file(path)
    assert flavor.name == "python"
    loaded = flavor.load(path, flavor.inspect_file(path), trust=True)
    np.testing.assert_array_equal(loaded.predict(numeric_table), model.predict(numeric_table))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickle_files_of_every_modern_protocol_are_detected(protocol: int, tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(RuleModel(), protocol=protocol))
    assert flavor_for_file(path).name == "python"


def test_python_is_detected_from_the_object(tmp_path: Path) -> None:
    assert flavor_for_object(RuleModel()).name == "python"


def test_a_pickle_of_something_without_predict_is_invalid_input(tmp_path: Path) -> None:
    path = tmp_path / "numbers.pkl"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(InvalidInput, match=r"'numbers.pkl' holds a list, which has no predict\(\) method"):
        get_flavor("python").load(path, {}, trust=True)
