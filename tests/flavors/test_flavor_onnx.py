"""The onnx format: skl2onnx conversions run in ONNX Runtime and agree with scikit-learn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from shipyard.errors import InvalidInput
from shipyard.flavors import LoadedModel, flavor_for_file, flavor_for_object, get_flavor

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")

#: ONNX runs in float32; scikit-learn in float64.
FLOAT32 = {"rtol": 1e-4, "atol": 1e-5}


@pytest.fixture(scope="module")
def features(numeric_table: pd.DataFrame) -> np.ndarray:
    return numeric_table.to_numpy(dtype=np.float32)


@pytest.fixture(scope="module")
def logistic(features: np.ndarray, three_classes: np.ndarray) -> LogisticRegression:
    return LogisticRegression(max_iter=500).fit(StandardScaler().fit_transform(features), three_classes)


@pytest.fixture(scope="module")
def scaled(features: np.ndarray) -> np.ndarray:
    return StandardScaler().fit_transform(features).astype(np.float32)


@pytest.fixture(scope="module")
def logistic_proto(logistic: LogisticRegression, scaled: np.ndarray) -> onnx.ModelProto:
    """Default skl2onnx output: an int64 label tensor and a ZipMap of probabilities."""
    return skl2onnx.to_onnx(logistic, scaled[:1])


@pytest.fixture(scope="module")
def saved_logistic(logistic_proto: onnx.ModelProto, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return get_flavor("onnx").save(logistic_proto, tmp_path_factory.mktemp("onnx")).path


@pytest.fixture(scope="module")
def loaded_logistic(saved_logistic: Path) -> LoadedModel:
    return get_flavor("onnx").load(saved_logistic, {})


def test_onnx_logistic_regression_matches_sklearn_labels_and_probabilities(
    logistic: LogisticRegression, loaded_logistic: LoadedModel, scaled: np.ndarray
) -> None:
    np.testing.assert_array_equal(loaded_logistic.predict(scaled), logistic.predict(scaled))
    assert loaded_logistic.has_proba
    np.testing.assert_allclose(
        loaded_logistic.predict_proba(scaled), logistic.predict_proba(scaled), **FLOAT32
    )


def test_onnx_classifier_describes_classes_and_feature_count(loaded_logistic: LoadedModel) -> None:
    assert loaded_logistic.describe().to_dict() == {
        "task": "classification",
        "classes": [0, 1, 2],
        "feature_names": None,
        "n_features": 3,
    }


def test_onnx_single_tensor_input_takes_a_dataframe_positionally(
    logistic: LogisticRegression, loaded_logistic: LoadedModel, scaled: np.ndarray
) -> None:
    frame = pd.DataFrame(scaled.astype(np.float64), columns=["x0", "x1", "x2"])
    np.testing.assert_array_equal(loaded_logistic.predict(frame), logistic.predict(scaled))


def test_onnx_wrong_column_count_is_invalid_input(loaded_logistic: LoadedModel, scaled: np.ndarray) -> None:
    with pytest.raises(InvalidInput, match=r"input has 2 column\(s\) but the model expects 3"):
        loaded_logistic.predict(scaled[:, :2])


def test_onnx_random_forest_regressor_matches_sklearn(
    features: np.ndarray, target: np.ndarray, tmp_path: Path
) -> None:
    forest = RandomForestRegressor(n_estimators=10, max_depth=5, random_state=0).fit(features, target)
    flavor = get_flavor("onnx")
    saved = flavor.save(skl2onnx.to_onnx(forest, features[:1]), tmp_path)
    loaded = flavor.load(saved.path, saved.metadata)
    predictions = loaded.predict(features)
    assert predictions.shape == (len(features),)
    np.testing.assert_allclose(predictions, forest.predict(features), **FLOAT32)
    assert loaded.describe().to_dict() == {
        "task": "regression",
        "classes": None,
        "feature_names": None,
        "n_features": 3,
    }
    assert not loaded.has_proba


def test_onnx_probability_tensor_with_string_labels(
    features: np.ndarray, string_labels: np.ndarray, tmp_path: Path
) -> None:
    forest = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(features, string_labels)
    proto = skl2onnx.to_onnx(forest, features[:1], options={"zipmap": False})
    flavor = get_flavor("onnx")
    loaded = flavor.load(flavor.save(proto, tmp_path).path, {})
    np.testing.assert_array_equal(loaded.predict(features), forest.predict(features))
    np.testing.assert_allclose(loaded.predict_proba(features), forest.predict_proba(features), **FLOAT32)
    assert loaded.describe().classes == ["approve", "reject"]


def test_onnx_mixed_type_pipeline_is_fed_one_column_per_input(
    table: pd.DataFrame, string_labels: np.ndarray, tmp_path: Path
) -> None:
    columns = ColumnTransformer(
        [
            ("colour", OneHotEncoder(handle_unknown="ignore"), ["colour"]),
            ("numbers", StandardScaler(), ["age", "income", "score"]),
        ]
    )
    pipeline = Pipeline([("columns", columns), ("model", LogisticRegression())]).fit(table, string_labels)
    example = table.astype({"age": np.float32, "income": np.float32, "score": np.float32})[:1]
    flavor = get_flavor("onnx")
    loaded = flavor.load(flavor.save(skl2onnx.to_onnx(pipeline, example), tmp_path).path, {})
    # Columns in another order, plus one the model does not use: inputs are matched by name.
    shuffled = table[["colour", "score", "income", "age"]].assign(unused=0)
    np.testing.assert_array_equal(loaded.predict(shuffled), pipeline.predict(table))
    np.testing.assert_allclose(loaded.predict_proba(table), pipeline.predict_proba(table), **FLOAT32)
    assert loaded.describe().to_dict() == {
        "task": "classification",
        "classes": ["approve", "reject"],
        "feature_names": ["age", "income", "score", "colour"],
        "n_features": 4,
    }
    with pytest.raises(InvalidInput, match=r"missing 1 column\(s\) the model needs: 'colour'"):
        loaded.predict(table.drop(columns="colour"))


def test_onnx_is_detected_from_the_object_and_from_its_file(
    logistic_proto: onnx.ModelProto, saved_logistic: Path
) -> None:
    assert flavor_for_object(logistic_proto).name == "onnx"
    flavor = flavor_for_file(saved_logistic)
    assert flavor.name == "onnx"
    metadata = flavor.inspect_file(saved_logistic)
    assert metadata["opsets"]["ai.onnx.ml"] >= 1
    assert metadata["producer"].startswith("skl2onnx")


def _matmul_model(weights: np.ndarray) -> onnx.ModelProto:
    """A hand-built linear model, Y = X @ W, with W stored as an initializer tensor."""
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])],
        "linear",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, weights.shape[0]])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 1])],
        initializer=[numpy_helper.from_array(weights, name="W")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_hand_built_onnx_regressor_predicts_its_matrix_product(features: np.ndarray, tmp_path: Path) -> None:
    weights = np.array([[0.5], [-1.0], [2.0]], dtype=np.float32)
    flavor = flavor_for_object(_matmul_model(weights))
    loaded = flavor.load(flavor.save(_matmul_model(weights), tmp_path).path, {})
    np.testing.assert_allclose(loaded.predict(features), (features @ weights).ravel(), rtol=1e-6)
    assert loaded.describe().task == "regression"


def test_onnx_model_with_external_data_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    model = _matmul_model(np.ones((3, 1), dtype=np.float32))
    onnx.save_model(model, path, save_as_external_data=True, location="weights.bin", size_threshold=0)
    assert (tmp_path / "weights.bin").exists()
    assert flavor_for_file(path).name == "onnx"
    with pytest.raises(
        InvalidInput, match=r"'model.onnx': the ONNX model keeps tensors in external data files"
    ):
        get_flavor("onnx").load(path, {})


def test_empty_onnx_model_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"empty graph"):
        flavor_for_object(onnx.ModelProto())
