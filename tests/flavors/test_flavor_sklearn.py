"""The sklearn format: pipelines survive a skops round trip, and foreign types need trust to load."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.special
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from shipyard.errors import InvalidInput, Unauthorized
from shipyard.flavors import LoadedModel, flavor_for_file, flavor_for_object, get_flavor
from shipyard.flavors.sklearn import SklearnModel, _is_library_member

FEATURES = ["age", "income", "score", "colour"]


class ClipOutliers(BaseEstimator, TransformerMixin):
    """A user's own transformer: not part of scikit-learn, so a skops file holding it needs trust."""

    def __init__(self, limit: float = 3.0) -> None:
        self.limit = limit

    def fit(self, data: Any, target: Any = None) -> ClipOutliers:
        self.n_features_in_ = np.asarray(data).shape[1]
        return self

    def transform(self, data: Any) -> np.ndarray:
        return np.clip(np.asarray(data, dtype=float), -self.limit, self.limit)


@pytest.fixture(scope="module")
def pipeline(table: pd.DataFrame, string_labels: np.ndarray) -> Pipeline:
    """OneHotEncoder on the string column, StandardScaler on the numeric ones, then LogisticRegression."""
    columns = ColumnTransformer(
        [
            ("colour", OneHotEncoder(handle_unknown="ignore"), ["colour"]),
            ("numbers", StandardScaler(), ["age", "income", "score"]),
        ]
    )
    return Pipeline([("columns", columns), ("model", LogisticRegression())]).fit(table, string_labels)


@pytest.fixture(scope="module")
def saved_pipeline(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return get_flavor("sklearn").save(pipeline, tmp_path_factory.mktemp("sklearn")).path


@pytest.fixture(scope="module")
def loaded_pipeline(saved_pipeline: Path) -> LoadedModel:
    return get_flavor("sklearn").load(saved_pipeline, {})


def test_sklearn_pipeline_round_trip_predicts_identically(
    pipeline: Pipeline, loaded_pipeline: LoadedModel, table: pd.DataFrame
) -> None:
    np.testing.assert_array_equal(loaded_pipeline.predict(table), pipeline.predict(table))
    assert loaded_pipeline.has_proba
    np.testing.assert_allclose(loaded_pipeline.predict_proba(table), pipeline.predict_proba(table))


def test_sklearn_pipeline_describes_task_classes_and_features(loaded_pipeline: LoadedModel) -> None:
    description = loaded_pipeline.describe()
    assert description.task == "classification"
    assert description.classes == ["approve", "reject"]
    assert description.feature_names == FEATURES
    assert description.n_features == 4
    assert description.to_dict()["classes"] == ["approve", "reject"]


def test_sklearn_save_records_the_serializer_and_versions(pipeline: Pipeline, tmp_path: Path) -> None:
    saved = get_flavor("sklearn").save(pipeline, tmp_path)
    assert saved.path == tmp_path / "model.skops"
    assert saved.metadata["serializer"] == "skops"
    assert {"skops_version", "sklearn_version"} <= saved.metadata.keys()


def test_sklearn_input_columns_are_matched_by_name_and_extras_ignored(
    pipeline: Pipeline, loaded_pipeline: LoadedModel, table: pd.DataFrame
) -> None:
    shuffled = table[["colour", "score", "age", "income"]].assign(unrelated=1.0)
    np.testing.assert_array_equal(loaded_pipeline.predict(shuffled), pipeline.predict(table))


def test_sklearn_missing_input_column_is_invalid_input_naming_it(
    loaded_pipeline: LoadedModel, table: pd.DataFrame
) -> None:
    with pytest.raises(InvalidInput, match=r"missing 1 column\(s\) the model needs: 'income'"):
        loaded_pipeline.predict(table.drop(columns="income"))


def test_sklearn_named_pipeline_accepts_a_positional_array(
    pipeline: Pipeline, loaded_pipeline: LoadedModel, table: pd.DataFrame
) -> None:
    rows = table.to_numpy(dtype=object)
    np.testing.assert_array_equal(loaded_pipeline.predict(rows), pipeline.predict(table))


def test_sklearn_one_dimensional_array_is_invalid_input(loaded_pipeline: LoadedModel) -> None:
    with pytest.raises(InvalidInput, match=r"expected 2 \(rows x features\).*reshape\(1, -1\)"):
        loaded_pipeline.predict(np.array([40.0, 50_000.0, 0.5, "red"], dtype=object))


def test_sklearn_regressor_fitted_on_an_array_takes_arrays_and_frames(
    numeric_table: pd.DataFrame, target: np.ndarray, tmp_path: Path
) -> None:
    regressor = LinearRegression().fit(numeric_table.to_numpy(), target)
    flavor = get_flavor("sklearn")
    loaded = flavor.load(flavor.save(regressor, tmp_path).path, {})
    expected = regressor.predict(numeric_table.to_numpy())
    np.testing.assert_array_equal(loaded.predict(numeric_table.to_numpy()), expected)
    np.testing.assert_array_equal(loaded.predict(numeric_table), expected)
    assert loaded.describe().to_dict() == {
        "task": "regression",
        "classes": None,
        "feature_names": None,
        "n_features": 3,
    }
    assert not loaded.has_proba
    with pytest.raises(InvalidInput, match=r"has no predict_proba"):
        loaded.predict_proba(numeric_table)
    with pytest.raises(InvalidInput, match=r"input has 2 column\(s\) but the model expects 3"):
        loaded.predict(numeric_table.to_numpy()[:, :2])


def test_sklearn_is_detected_from_the_object_and_from_its_file(
    pipeline: Pipeline, saved_pipeline: Path
) -> None:
    assert flavor_for_object(pipeline).name == "sklearn"
    assert flavor_for_file(saved_pipeline).name == "sklearn"


def test_skops_file_with_numpy_functions_loads_without_trust(
    numeric_table: pd.DataFrame, target: np.ndarray, tmp_path: Path
) -> None:
    model = make_pipeline(FunctionTransformer(np.log1p), LinearRegression()).fit(numeric_table.abs(), target)
    flavor = get_flavor("sklearn")
    loaded = flavor.load(flavor.save(model, tmp_path).path, {})
    np.testing.assert_array_equal(loaded.predict(numeric_table.abs()), model.predict(numeric_table.abs()))


def test_skops_file_with_a_custom_type_requires_trust(
    numeric_table: pd.DataFrame, target: np.ndarray, tmp_path: Path
) -> None:
    model = make_pipeline(ClipOutliers(), LinearRegression()).fit(numeric_table, target)
    flavor = get_flavor("sklearn")
    path = flavor.save(model, tmp_path).path
    with pytest.raises(Unauthorized) as caught:
        flavor.load(path, {})
    message = str(caught.value)
    assert f"{__name__}.ClipOutliers" in message
    assert "trust=True" in message and "--trust" in message
    trusted = flavor.load(path, {}, trust=True)
    np.testing.assert_array_equal(trusted.predict(numeric_table), model.predict(numeric_table))


def test_sklearn_save_of_an_unfitted_estimator_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"not fitted"):
        get_flavor("sklearn").save(LogisticRegression(), tmp_path)


def test_a_zip_that_is_not_a_skops_file_is_not_the_sklearn_format(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "archive.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", '{"name": "not a model"}')
    assert not get_flavor("sklearn").accepts_file(path)
    with pytest.raises(InvalidInput, match=r"'archive.zip' is not a saved model"):
        flavor_for_file(path)


def test_a_damaged_skops_file_is_invalid_input(saved_pipeline: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.skops"
    damaged.write_bytes(saved_pipeline.read_bytes()[:200])
    with pytest.raises(InvalidInput, match=r"'damaged.skops' is not a readable skops file"):
        get_flavor("sklearn").load(damaged, {})


def test_numeric_frames_reach_array_estimators_as_arrays_in_the_fitted_order() -> None:
    """A HistGradientBoosting model fitted on named columns gets the reordered values, and no warning."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(300, 4)), columns=["a", "b", "c", "d"])
    target = (frame["a"] - frame["c"] > 0).astype(int)
    estimator = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(frame, target)
    model = SklearnModel(estimator)
    shuffled = frame[["d", "b", "a", "c"]]
    with warnings.catch_warnings(record=True) as caught:  # the process's filters, as a server has them
        labels, probabilities = model.predict_with_proba(shuffled)
    assert [str(warning.message) for warning in caught] == []
    np.testing.assert_array_equal(labels, estimator.predict(frame))
    np.testing.assert_allclose(probabilities, estimator.predict_proba(frame))
    assert isinstance(model._features(shuffled), np.ndarray)


def test_frames_with_pandas_categories_stay_frames_for_histgradientboosting() -> None:
    frame = pd.DataFrame({"x": np.linspace(0, 1, 200), "colour": pd.Categorical(["red", "blue"] * 100)})
    target = (frame["colour"] == "red").astype(int)
    estimator = HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype").fit(
        frame, target
    )
    model = SklearnModel(estimator)
    assert isinstance(model._features(frame), pd.DataFrame)
    np.testing.assert_array_equal(model.predict(frame), estimator.predict(frame))


def test_text_columns_stay_frames_for_pipelines() -> None:
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "plan": ["a", "b", "a", "b"]})
    pipeline = Pipeline(
        [
            ("columns", ColumnTransformer([("text", OneHotEncoder(), ["plan"])], remainder="passthrough")),
            ("model", LogisticRegression()),
        ]
    ).fit(frame, [0, 1, 0, 1])
    model = SklearnModel(pipeline)
    assert isinstance(model._features(frame), pd.DataFrame)
    np.testing.assert_array_equal(model.predict(frame), pipeline.predict(frame))


def _load_in_a_fresh_process(tmp_path: Path, before: str, after: str, model: Any = None) -> list[str]:
    """Save ``model`` (default: a logistic regression), load it in a fresh interpreter with ``before`` run
    first, print its prediction for x=3 and whatever ``after`` prints; the words printed."""
    import subprocess
    import sys

    model = LogisticRegression() if model is None else model
    model.fit(pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]}), [0, 0, 1, 1])
    saved = get_flavor("sklearn").save(model, tmp_path)
    script = (
        "import sys\n"
        "import pandas as pd\n"
        "from pathlib import Path\n"
        "from shipyard.flavors import get_flavor\n"
        f"{before}\n"
        f"loaded = get_flavor('sklearn').load(Path({str(saved.path)!r}), {{}})\n"
        "print(loaded.predict(pd.DataFrame({'x': [3.0]}))[0])\n"
        f"{after}\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_loading_a_skops_model_does_not_import_torch(tmp_path: Path) -> None:
    """skops lists scikit-learn's estimators by walking its packages, PyTorch's shim among them: a serving
    worker or a CLI command would import torch (2 s of CPU, 180 MiB) to load a logistic regression."""
    after = (
        "print('torch' in sys.modules)\n"
        "import sklearn.externals.array_api_compat.torch as shim\n"  # the placeholder stepped aside
        "print(hasattr(shim, 'asarray'))"
    )
    assert _load_in_a_fresh_process(tmp_path, "pass", after) == ["1", "False", "True"]


@pytest.mark.parametrize("own", [True, False])
def test_shipyards_own_processes_load_without_walking_scikit_learn(tmp_path: Path, own: bool) -> None:
    """skops builds its default trust list by importing every scikit-learn subpackage (0.5 s, 15 MiB per
    worker). shipyard vets each type itself, so its own processes skip the walk and still load the same
    model; anyone else's process keeps skops's list for their own calls."""
    before = "from shipyard.flavors._process import own_process\n" + ("own_process()" if own else "pass")
    after = (
        "from skops.io._trusted_types import SKLEARN_ESTIMATOR_TYPE_NAMES as listed\n"
        "print('sklearn.cross_decomposition' in sys.modules, len(listed) > 100)"
    )
    assert _load_in_a_fresh_process(tmp_path, before, after) == ["1", str(not own), str(not own)]


@pytest.mark.parametrize("own", [True, False])
def test_scipy_special_functions_load_without_trust_though_own_processes_skip_their_listing(
    tmp_path: Path, own: bool
) -> None:
    """skops names each of SciPy's special functions at import by searching every loaded module (0.25 s in
    a worker). shipyard's own processes skip that list and vet a ufunc the file names themselves, so a
    pipeline calling ``scipy.special.expit`` loads without trust either way, and SciPy is left as it was."""
    before = "from shipyard.flavors._process import own_process\n" + ("own_process()" if own else "pass")
    after = (
        "import scipy\n"
        "from skops.io._trusted_types import SCIPY_UFUNC_TYPE_NAMES as listed\n"
        "special = scipy.special\n"
        "print(special is sys.modules['scipy.special'], hasattr(special, 'expit'), len(listed) > 100)"
    )
    model = make_pipeline(FunctionTransformer(scipy.special.expit), LogisticRegression())
    assert _load_in_a_fresh_process(tmp_path, before, after, model) == ["1", "True", "True", str(not own)]


@pytest.mark.parametrize(
    ("type_name", "trusted"),
    [
        ("numpy.log1p", True),
        ("scipy.special._special_ufuncs.expit", True),
        ("sklearn.linear_model._logistic.LogisticRegression", True),
        ("numpy.load", False),  # a function, not elementwise math: it reads files
        ("os.system", False),
        ("numpy.f2py.__main__.main", False),
    ],
)
def test_the_types_a_file_may_name_without_trust(type_name: str, trusted: bool) -> None:
    assert _is_library_member(type_name) is trusted
