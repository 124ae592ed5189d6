"""A loaded model describes itself in plain Python values: ``classes=[0, 1, 2]``, never ``np.int64(0)``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shipyard.flavors import ModelDescription, get_flavor


def _described(flavor: str, model: Any, directory: Path) -> ModelDescription:
    saved = get_flavor(flavor).save(model, directory)
    return get_flavor(flavor).load(saved.path, saved.metadata).describe()


def test_integer_classes_are_python_ints_in_the_description_and_its_repr(
    numeric_table: pd.DataFrame, three_classes: np.ndarray, tmp_path: Path
) -> None:
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(numeric_table, three_classes)
    assert isinstance(model.classes_[0], np.integer)  # what sklearn hands back

    description = _described("sklearn", model, tmp_path)

    assert description.classes == [0, 1, 2]
    assert [type(label) for label in description.classes] == [int, int, int]
    assert "classes=[0, 1, 2]" in repr(description) and "np." not in repr(description)
    assert type(description.n_features) is int
    assert json.loads(json.dumps(description.to_dict()))["classes"] == [0, 1, 2]


def test_text_classes_and_feature_names_are_python_strings(
    string_labels: np.ndarray, numeric_table: pd.DataFrame, tmp_path: Path
) -> None:
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(numeric_table, string_labels)

    description = _described("sklearn", model, tmp_path)

    assert description.classes == ["approve", "reject"]
    assert description.feature_names == ["age", "income", "score"]
    assert all(type(value) is str for value in [*description.classes, *description.feature_names])
    assert "np." not in repr(description)


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_boosted_trees_describe_their_classes_in_python_values(
    library: str, numeric_table: pd.DataFrame, three_classes: np.ndarray, tmp_path: Path
) -> None:
    module = pytest.importorskip(library)
    if library == "xgboost":
        model = module.XGBClassifier(n_estimators=5, max_depth=2).fit(numeric_table, three_classes)
    else:
        model = module.LGBMClassifier(n_estimators=5, verbose=-1).fit(numeric_table, three_classes)

    description = _described(library, model, tmp_path)

    assert description.classes == [0, 1, 2]
    assert "np." not in repr(description), repr(description)


def test_a_description_built_from_numpy_values_holds_python_ones() -> None:
    count: Any = np.int64(3)  # what a library's n_features_in_ may be
    description = ModelDescription("classification", classes=list(np.array([0.0, 1.0])), n_features=count)
    assert repr(description) == (
        "ModelDescription(task='classification', classes=[0.0, 1.0], feature_names=None, n_features=3)"
    )
