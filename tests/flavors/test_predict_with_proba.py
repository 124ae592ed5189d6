"""predict_with_proba: labels and probabilities from one model pass, exactly what predict and predict_proba
give, for every scikit-learn classifier read that way, inside a Pipeline too; everything else makes two calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LinearRegression, LogisticRegression, SGDClassifier
from sklearn.naive_bayes import BernoulliNB, CategoricalNB, ComplementNB, GaussianNB, MultinomialNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier
from threadpoolctl import threadpool_limits

from shipyard.flavors import LoadedModel, get_flavor
from shipyard.flavors.sklearn import SklearnModel

ROWS = 400
#: Every classifier the sklearn flavor reads labels off predict_proba for, and whether it needs counts.
SINGLE_PASS: list[tuple[BaseEstimator, bool]] = [
    (LogisticRegression(max_iter=500), False),
    (DecisionTreeClassifier(max_depth=5, random_state=0), False),
    (ExtraTreeClassifier(random_state=0), False),
    (RandomForestClassifier(n_estimators=8, random_state=0), False),
    (ExtraTreesClassifier(n_estimators=8, random_state=0), False),
    (GradientBoostingClassifier(n_estimators=15, random_state=0), False),
    (HistGradientBoostingClassifier(max_iter=40, random_state=0), False),
    (KNeighborsClassifier(n_neighbors=4), False),  # an even k: plenty of tied votes
    (GaussianNB(), False),
    (BernoulliNB(), False),
    (MultinomialNB(), True),
    (ComplementNB(), True),
    (CategoricalNB(), True),
]


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Small fits on one OpenMP/BLAS thread: on a busy machine, threads waiting for each other make the
    many little HistGradientBoosting fits here take minutes instead of seconds."""
    with threadpool_limits(limits=1):
        yield


def random_problem(
    seed: int, classes: int, string_labels: bool, counts: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Random features (small counts for the count-based naive Bayes), noisy labels of ``classes`` values."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(ROWS, 6))
    score = features[:, 0] - 0.7 * features[:, 1] + rng.normal(scale=0.8, size=ROWS)
    labels = np.digitize(score, np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1]))
    if counts:
        features = np.minimum(np.abs(features * 2).round(), 5)
    if string_labels:
        return features, np.array(["bronze", "gold", "silver", "iron"])[labels]
    return features, labels * 10 + 3  # integer labels that are not 0..k-1


def assert_same_as_two_calls(model: LoadedModel, rows: Any) -> None:
    labels, probabilities = model.predict_with_proba(rows)
    expected = model.predict(rows)
    np.testing.assert_array_equal(labels, expected)
    assert labels.dtype == expected.dtype
    assert probabilities is not None
    np.testing.assert_array_equal(probabilities, model.predict_proba(rows))


def record_calls(estimator: Any, method: str, calls: list[tuple[str, int]]) -> None:
    """Append ``(method, rows)`` to ``calls`` each time ``estimator.method`` runs."""
    original = getattr(estimator, method)

    def recorded(rows: Any) -> Any:
        calls.append((method, len(rows)))
        return original(rows)

    setattr(estimator, method, recorded)


def forbid(estimator: Any, method: str) -> None:
    """Make ``estimator.method`` fail, so a test shows it was never called."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"{type(estimator).__name__}.{method} was called")

    setattr(estimator, method, refuse)


@pytest.mark.parametrize("classes", [2, 3, 4])
@pytest.mark.parametrize("string_labels", [False, True], ids=["int-labels", "str-labels"])
@pytest.mark.parametrize(
    ("estimator", "counts"), SINGLE_PASS, ids=[type(estimator).__name__ for estimator, _ in SINGLE_PASS]
)
def test_single_pass_labels_and_probabilities_equal_predict_and_predict_proba(
    estimator: BaseEstimator, counts: bool, string_labels: bool, classes: int
) -> None:
    for seed in range(3):
        features, labels = random_problem(seed, classes, string_labels, counts)
        model = SklearnModel(clone(estimator).fit(features[:300], labels[:300]))
        assert_same_as_two_calls(model, features[300:])
        assert_same_as_two_calls(model, features[300:301])  # a single row, as a request brings


@pytest.fixture(scope="module")
def mixed_table() -> tuple[pd.DataFrame, np.ndarray]:
    """Four numeric and two text columns, and three string labels."""
    rng = np.random.default_rng(3)
    table = pd.DataFrame(rng.normal(size=(ROWS, 4)), columns=["a", "b", "c", "d"])
    table["plan"] = rng.choice(["basic", "pro", "team"], ROWS)
    table["region"] = rng.choice(["eu", "us", "apac"], ROWS)
    score = table["a"] - table["b"] + (table["plan"] == "pro") + rng.normal(scale=0.5, size=ROWS)
    return table, np.array(["churn", "stay", "upgrade"])[np.digitize(score, [-0.5, 0.8])]


def mixed_pipeline() -> Pipeline:
    columns = ColumnTransformer(
        [
            ("text", OneHotEncoder(handle_unknown="ignore"), ["plan", "region"]),
            ("numbers", StandardScaler(), ["a", "b", "c", "d"]),
        ]
    )
    return Pipeline([("columns", columns), ("model", HistGradientBoostingClassifier(random_state=0))])


@pytest.mark.parametrize("classes", [2, 3])
def test_pipeline_with_column_transformer_and_hgb_gives_the_same_labels_and_probabilities(
    mixed_table: tuple[pd.DataFrame, np.ndarray], classes: int
) -> None:
    table, labels = mixed_table
    if classes == 2:
        labels = np.where(labels == "stay", "stay", "leave")
    model = SklearnModel(mixed_pipeline().fit(table.iloc[:300], labels[:300]))
    assert_same_as_two_calls(model, table.iloc[300:])
    assert_same_as_two_calls(model, table.iloc[[350]])


def test_pipeline_runs_its_transformers_once_and_the_model_once(
    mixed_table: tuple[pd.DataFrame, np.ndarray],
) -> None:
    table, labels = mixed_table
    pipeline = mixed_pipeline().fit(table, labels)
    expected_labels, expected_probabilities = pipeline.predict(table), pipeline.predict_proba(table)
    calls: list[tuple[str, int]] = []
    record_calls(pipeline.named_steps["columns"], "transform", calls)
    record_calls(pipeline[-1], "predict_proba", calls)
    for estimator, method in ((pipeline, "predict"), (pipeline, "predict_proba"), (pipeline[-1], "predict")):
        forbid(estimator, method)
    labels_found, probabilities = SklearnModel(pipeline).predict_with_proba(table)
    assert calls == [("transform", len(table)), ("predict_proba", len(table))]
    np.testing.assert_array_equal(labels_found, expected_labels)
    np.testing.assert_array_equal(probabilities, expected_probabilities)


def test_a_tie_for_most_probable_is_settled_by_the_estimators_own_predict() -> None:
    # Balanced leaves leave every raw score at exactly 0: probabilities [0.5, 0.5], where argmax would say
    # "no" but GradientBoosting's rule (raw >= 0) says "yes".
    features = np.array([[0.0], [0.0], [1.0], [1.0]])
    labels = np.array(["no", "yes", "no", "yes"])
    estimator = GradientBoostingClassifier(n_estimators=3, max_depth=1).fit(features, labels)
    model = SklearnModel(estimator)
    found, probabilities = model.predict_with_proba(features)
    assert probabilities is not None and (probabilities == 0.5).all()
    assert found.tolist() == estimator.predict(features).tolist() == ["yes"] * 4


class Magnitude(TransformerMixin, BaseEstimator):
    """A user's stateless transformer: it learns nothing, so it has no fitted attributes."""

    def fit(self, X: Any, y: Any = None) -> Magnitude:
        return self

    def transform(self, X: Any) -> np.ndarray:
        return np.log1p(np.abs(np.asarray(X, dtype=float)))


def test_a_pipeline_with_a_stateless_transformer_of_the_users_reads_one_pass() -> None:
    features, labels = random_problem(4, 3, True, False)
    pipeline = Pipeline([("magnitude", Magnitude()), ("scale", "passthrough"), ("model", GaussianNB())])
    model = SklearnModel(pipeline.fit(features[:300], labels[:300]))
    assert_same_as_two_calls(model, features[300:])


class FirstClassAlways(HistGradientBoostingClassifier):
    """A user's subclass with its own predict: its labels are not its most probable class."""

    def predict(self, X: Any) -> np.ndarray:
        return np.full(len(X), self.classes_[0])


@pytest.mark.parametrize(
    "make",
    [
        lambda: SGDClassifier(loss="log_loss", random_state=0),
        lambda: KNeighborsClassifier(n_neighbors=5, weights="distance"),
        lambda: FirstClassAlways(max_iter=20),
    ],
    ids=["SGDClassifier", "KNeighbors-distance", "subclass-with-own-predict"],
)
def test_other_classifiers_keep_two_calls_and_their_own_labels(make: Callable[[], BaseEstimator]) -> None:
    features, labels = random_problem(5, 3, True, False)
    model = SklearnModel(make().fit(features[:300], labels[:300]))
    assert_same_as_two_calls(model, features[300:])


def test_a_regressor_gives_predictions_and_no_probabilities() -> None:
    features, labels = random_problem(6, 2, False, False)
    regressor = LinearRegression().fit(features, labels)
    predictions, probabilities = SklearnModel(regressor).predict_with_proba(features)
    np.testing.assert_array_equal(predictions, regressor.predict(features))
    assert probabilities is None


def test_a_pipeline_loaded_from_skops_reads_labels_off_one_pass(
    mixed_table: tuple[pd.DataFrame, np.ndarray], tmp_path: Path
) -> None:
    table, labels = mixed_table
    flavor = get_flavor("sklearn")
    loaded = flavor.load(flavor.save(mixed_pipeline().fit(table, labels), tmp_path).path, {})
    expected = loaded.predict(table)
    forbid(loaded.native, "predict")
    found, probabilities = loaded.predict_with_proba(table)
    np.testing.assert_array_equal(found, expected)
    np.testing.assert_array_equal(probabilities, loaded.predict_proba(table))
