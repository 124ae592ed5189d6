"""XGBoost models in XGBoost's own UBJSON format, which loads without pickle on any XGBoost version since 2.

``XGBClassifier`` and ``XGBRegressor`` are rebuilt as the same class, so labels and probabilities come
from XGBoost's own code. Any other XGBoost estimator (``XGBRanker``…) and a bare ``Booster`` are kept as
a Booster, and a Booster has no class labels: shipyard reads its objective instead. Probabilistic
classification objectives (``binary:logistic``, ``multi:softprob``) give labels 0..k-1 from the most
probable class and ``predict_proba`` the booster's probabilities; regression objectives give values; any
other objective (ranking, raw margins) predicts the booster's raw output with task "unknown".

Where the labels are the most probable class (a Booster with a probabilistic objective, an XGBClassifier
with a single-target ``binary:logistic`` or ``multi:softprob`` objective), ``predict_with_proba`` reads
labels and probabilities off one pass through the booster.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.flavors._features import FeatureLayout
from shipyard.flavors._optional import loaded, require, wrapper_kind
from shipyard.flavors._sniffing import read_head
from shipyard.flavors.base import (
    Flavor,
    LoadedModel,
    ModelDescription,
    SavedModel,
    Task,
    most_probable_class,
)

CLASSIFIER = "XGBClassifier"
REGRESSOR = "XGBRegressor"
BOOSTER = "Booster"
_KINDS = (CLASSIFIER, REGRESSOR, BOOSTER)
_REGRESSION_OBJECTIVE_PREFIXES = ("reg:", "count:", "survival:")
#: Objectives whose booster output is class probabilities.
_PROBABILITY_OBJECTIVES = ("binary:logistic", "multi:softprob")


class XGBoostFlavor(Flavor):
    """XGBoost scikit-learn estimators and Boosters, as one ``.ubj`` file."""

    name = "xgboost"
    file_name = "model.ubj"

    def rejection_reason(self, obj: Any) -> str | None:
        xgboost = loaded("xgboost")
        if xgboost is None or not isinstance(obj, xgboost.XGBModel):
            return None
        if not obj.__sklearn_is_fitted__():
            return f"{type(obj).__name__} is not fitted: call fit() on it before registering it"
        return None

    def accepts_object(self, obj: Any) -> bool:
        return _kind_of(obj) is not None and self.rejection_reason(obj) is None

    def accepts_file(self, path: Path) -> bool:
        # JSON and UBJSON models both open an object whose first key is "learner"; in UBJSON the key is
        # preceded by a type marker and a length, so it sits a few bytes further in.
        head = read_head(path, 32)
        return head.lstrip().startswith(b"{") and b"learner" in head

    def save(self, obj: Any, directory: Path) -> SavedModel:
        reason = self.rejection_reason(obj)
        if reason is not None:
            raise InvalidInput(reason)
        kind = _kind_of(obj)
        if kind is None:
            raise InvalidInput(f"the xgboost format saves XGBoost models; got {type(obj).__name__}")
        import xgboost

        path = directory / self.file_name
        native = obj if kind != BOOSTER or isinstance(obj, xgboost.Booster) else obj.get_booster()
        native.save_model(path)
        return SavedModel(path=path, metadata={"kind": kind, "xgboost_version": xgboost.__version__})

    def load(self, path: Path, metadata: dict[str, Any], *, trust: bool = False) -> LoadedModel:
        xgboost = require("xgboost", extra="xgboost", purpose="loading an XGBoost model")
        # XGBoost picks JSON or UBJSON by file extension when given a path, but by content when given the
        # bytes, so loading from bytes works whatever the store named the file.
        content = bytearray(path.read_bytes())
        kind = metadata.get("kind")
        if kind is None:
            kind = _kind_from_booster(_load_booster(xgboost, content, path))
        if kind not in _KINDS:
            raise InvalidInput(f"unknown XGBoost model kind {kind!r} in the metadata of '{path.name}'")
        if kind == BOOSTER:
            return XGBoostBoosterModel(_load_booster(xgboost, content, path))
        estimator = xgboost.XGBClassifier() if kind == CLASSIFIER else xgboost.XGBRegressor()
        try:
            estimator.load_model(content)
        except xgboost.core.XGBoostError as error:
            raise InvalidInput(f"XGBoost could not load '{path.name}': {_first_line(error)}") from error
        return XGBoostEstimatorModel(estimator)

    def inspect_file(self, path: Path, *, trust: bool = False) -> dict[str, Any]:
        xgboost = require("xgboost", extra="xgboost", purpose="reading an XGBoost model")
        booster = _load_booster(xgboost, bytearray(path.read_bytes()), path)
        return {"kind": _kind_from_booster(booster)}


class XGBoostEstimatorModel(LoadedModel):
    """An ``XGBClassifier`` or ``XGBRegressor`` rebuilt from its saved booster."""

    flavor = "xgboost"

    def __init__(self, estimator: Any) -> None:
        self._estimator = estimator
        self._layout = _layout(estimator.get_booster())
        self._single_pass = hasattr(estimator, "classes_") and labels_are_most_probable_class(estimator)

    @property
    def native(self) -> Any:
        return self._estimator

    def describe(self) -> ModelDescription:
        is_classifier = hasattr(self._estimator, "classes_")
        return ModelDescription(
            task="classification" if is_classifier else "regression",
            classes=list(self._estimator.classes_) if is_classifier else None,
            feature_names=self._layout.names,
            n_features=self._layout.count,
        )

    def predict(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        return np.asarray(self._estimator.predict(self._features(data)))

    @property
    def has_proba(self) -> bool:
        return hasattr(self._estimator, "predict_proba")

    def predict_proba(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        if not self.has_proba:
            return super().predict_proba(data)
        return np.asarray(self._estimator.predict_proba(self._features(data)))

    def predict_with_proba(self, data: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if not self._single_pass:
            return super().predict_with_proba(data)
        estimator, features = self._estimator, self._features(data)
        probabilities = np.asarray(estimator.predict_proba(features))
        labels = most_probable_class(estimator.classes_, probabilities, lambda: estimator.predict(features))
        return labels, probabilities

    def _features(self, data: pd.DataFrame | np.ndarray) -> pd.DataFrame | np.ndarray:
        return self._layout.table(data)


class XGBoostBoosterModel(LoadedModel):
    """A bare XGBoost ``Booster``, interpreted through its objective (see the module docstring)."""

    flavor = "xgboost"

    def __init__(self, booster: Any) -> None:
        self._booster = booster
        self._layout = _layout(booster)
        learner = json.loads(booster.save_config())["learner"]
        self._objective: str = learner["objective"]["name"]
        self._n_classes = max(int(learner["learner_model_param"].get("num_class", "0")), 0)

    @property
    def native(self) -> Any:
        return self._booster

    def describe(self) -> ModelDescription:
        task: Task = "unknown"
        classes: list[Any] | None = None
        if self._objective in ("binary:logistic", "multi:softprob", "multi:softmax"):
            task = "classification"
            classes = list(range(max(self._n_classes, 2)))
        elif self._objective.startswith(_REGRESSION_OBJECTIVE_PREFIXES):
            task = "regression"
        return ModelDescription(
            task=task, classes=classes, feature_names=self._layout.names, n_features=self._layout.count
        )

    def predict(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        if self.has_proba:
            return np.argmax(self.predict_proba(data), axis=1)
        raw = self._raw(data)
        if self._objective == "multi:softmax":
            return raw.astype(np.int64)
        return raw

    @property
    def has_proba(self) -> bool:
        return self._objective in _PROBABILITY_OBJECTIVES

    def predict_proba(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        if not self.has_proba:
            return super().predict_proba(data)
        raw = self._raw(data)
        if raw.ndim == 1:
            return np.column_stack([1.0 - raw, raw])
        return raw

    def predict_with_proba(self, data: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if not self.has_proba:
            return super().predict_with_proba(data)
        probabilities = self.predict_proba(data)  # ``predict`` is the argmax of exactly these
        return np.argmax(probabilities, axis=1), probabilities

    def _raw(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        import xgboost

        features = self._layout.table(data)
        # enable_categorical: a model trained on pandas categories needs them passed through as such.
        matrix = xgboost.DMatrix(features, enable_categorical=True)
        return np.asarray(self._booster.predict(matrix))


def labels_are_most_probable_class(classifier: Any) -> bool:
    """Whether this fitted ``XGBClassifier``'s ``predict`` is the most probable class of its
    ``predict_proba``: true for a single-target ``binary:logistic`` or ``multi:softprob`` objective, not for
    ``multi:softmax`` (labels straight from the booster), multi-label models or custom objectives."""
    if callable(classifier.objective) or classifier.objective == "multi:softmax":
        return False
    learner = json.loads(classifier.get_booster().save_config())["learner"]
    targets = int(learner["learner_model_param"].get("num_target", "1"))
    return learner["objective"]["name"] in _PROBABILITY_OBJECTIVES and targets == 1


def _kind_of(obj: Any) -> str | None:
    return wrapper_kind(obj, "xgboost", CLASSIFIER, REGRESSOR, ("Booster", "XGBModel"))


def _kind_from_booster(booster: Any) -> str:
    """The scikit-learn class that saved ``booster``, from the attribute XGBoost writes for it."""
    try:
        estimator_type = json.loads(booster.attr("scikit_learn") or "{}").get("_estimator_type")
    except (ValueError, AttributeError):
        estimator_type = None
    return {"classifier": CLASSIFIER, "regressor": REGRESSOR}.get(estimator_type, BOOSTER)


def _load_booster(xgboost: Any, content: bytearray, path: Path) -> Any:
    booster = xgboost.Booster()
    try:
        booster.load_model(content)
    except xgboost.core.XGBoostError as error:
        raise InvalidInput(f"XGBoost could not load '{path.name}': {_first_line(error)}") from error
    return booster


def _layout(booster: Any) -> FeatureLayout:
    return FeatureLayout(names=booster.feature_names, count=booster.num_features())


def _first_line(error: Exception) -> str:
    """XGBoost errors carry a C++ stack trace after the first line; users need only the first."""
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
