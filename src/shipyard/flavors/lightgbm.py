"""LightGBM models in LightGBM's own text format, which loads without pickle on any LightGBM version.

The text file holds only the booster. The scikit-learn wrapper adds two things on top that the file does
not keep — the original class labels and the rule that turns probabilities into a label — so the metadata
records the labels (as JSON: strings or numbers) and ``LightGBMClassifierModel`` repeats the wrapper's rule
(``classes[argmax(proba)]``, with binary probabilities expanded to two columns ``[1 - p, p]``). A bare
``Booster`` has no labels: a binary or multiclass objective gives labels 0..k-1, a regression objective
values, and anything else (ranking, cross-entropy) the booster's raw output with task "unknown". Since
labels are always read off the probabilities, ``predict_with_proba`` returns both from one booster pass.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.flavors._features import FeatureLayout
from shipyard.flavors._optional import loaded, require, wrapper_kind
from shipyard.flavors._sniffing import read_head
from shipyard.flavors.base import Flavor, LoadedModel, ModelDescription, SavedModel, Task

CLASSIFIER = "LGBMClassifier"
REGRESSOR = "LGBMRegressor"
BOOSTER = "Booster"
_KINDS = (CLASSIFIER, REGRESSOR, BOOSTER)
_MAGIC = b"tree\nversion="
_CLASSIFICATION_OBJECTIVES = frozenset({"binary", "multiclass", "multiclassova"})
_REGRESSION_OBJECTIVES = frozenset(
    {"regression", "regression_l1", "huber", "fair", "poisson", "quantile", "mape", "gamma", "tweedie"}
)
#: A text model's header ends at the first blank line; this bounds the read on a damaged file.
_MAX_HEADER_LINES = 200


class LightGBMFlavor(Flavor):
    """LightGBM scikit-learn estimators and Boosters, as one text model file."""

    name = "lightgbm"
    file_name = "model.txt"

    def rejection_reason(self, obj: Any) -> str | None:
        lightgbm = loaded("lightgbm")
        if lightgbm is None or not isinstance(obj, lightgbm.LGBMModel):
            return None
        label = type(obj).__name__
        if not obj.__sklearn_is_fitted__():
            return f"{label} is not fitted: call fit() on it before registering it"
        if callable(obj.objective_):
            return (
                f"{label} uses a custom objective function, which LightGBM's model file cannot hold; "
                "register it with the 'python' format instead"
            )
        if isinstance(obj, lightgbm.LGBMClassifier) and _json_labels(obj.classes_) is None:
            return f"{label} has class labels that are not strings or numbers; refit it with such labels"
        return None

    def accepts_object(self, obj: Any) -> bool:
        return _kind_of(obj) is not None and self.rejection_reason(obj) is None

    def accepts_file(self, path: Path) -> bool:
        return read_head(path, len(_MAGIC)).replace(b"\r\n", b"\n") == _MAGIC

    def save(self, obj: Any, directory: Path) -> SavedModel:
        reason = self.rejection_reason(obj)
        if reason is not None:
            raise InvalidInput(reason)
        kind = _kind_of(obj)
        if kind is None:
            raise InvalidInput(f"the lightgbm format saves LightGBM models; got {type(obj).__name__}")
        import lightgbm

        booster = obj if isinstance(obj, lightgbm.Booster) else obj.booster_
        path = directory / self.file_name
        # Without num_iteration LightGBM saves up to the best iteration when early stopping found one,
        # which is also what the in-memory model predicts with.
        booster.save_model(path)
        names = getattr(obj, "feature_names_in_", None) if kind != BOOSTER else _named_features(booster)
        metadata = {
            "kind": kind,
            "classes": _json_labels(obj.classes_) if kind == CLASSIFIER else None,
            "feature_names": None if names is None else [str(name) for name in names],
            "lightgbm_version": lightgbm.__version__,
        }
        return SavedModel(path=path, metadata=metadata)

    def load(self, path: Path, metadata: dict[str, Any], *, trust: bool = False) -> LoadedModel:
        lightgbm = require("lightgbm", extra="lightgbm", purpose="loading a LightGBM model")
        kind = metadata.get("kind", BOOSTER)
        if kind not in _KINDS:
            raise InvalidInput(f"unknown LightGBM model kind {kind!r} in the metadata of '{path.name}'")
        try:
            booster = lightgbm.Booster(model_file=path)
        except lightgbm.basic.LightGBMError as error:
            raise InvalidInput(f"LightGBM could not load '{path.name}': {error}") from error
        layout = FeatureLayout(names=metadata.get("feature_names"), count=booster.num_feature())
        if kind == CLASSIFIER:
            classes = metadata.get("classes")
            if not classes:
                raise InvalidInput(
                    f"the metadata of '{path.name}' has no class labels for its LGBMClassifier"
                )
            return LightGBMClassifierModel(booster, layout, np.asarray(classes))
        objective = _read_header(path).get("objective", "").split(" ")[0]
        if kind == REGRESSOR:
            objective = "regression"
        return LightGBMBoosterModel(booster, layout, objective)

    def inspect_file(self, path: Path, *, trust: bool = False) -> dict[str, Any]:
        names = _read_header(path).get("feature_names", "").split()
        return {
            "kind": BOOSTER,
            "classes": None,
            "feature_names": None if not names or _are_generated(names) else names,
        }


class LightGBMClassifierModel(LoadedModel):
    """An ``LGBMClassifier`` rebuilt from its booster and recorded labels, predicting as the wrapper does."""

    flavor = "lightgbm"

    def __init__(self, booster: Any, layout: FeatureLayout, classes: np.ndarray) -> None:
        self._booster = booster
        self._layout = layout
        self._classes = classes

    @property
    def native(self) -> Any:
        return self._booster

    def describe(self) -> ModelDescription:
        return ModelDescription(
            task="classification",
            classes=list(self._classes),
            feature_names=self._layout.names,
            n_features=self._layout.count,
        )

    def predict(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        return self._classes[np.argmax(self.predict_proba(data), axis=1)]

    @property
    def has_proba(self) -> bool:
        return True

    def predict_proba(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        return _probabilities(self._booster, self._layout.table(data))

    def predict_with_proba(self, data: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        probabilities = self.predict_proba(data)
        return self._classes[np.argmax(probabilities, axis=1)], probabilities


class LightGBMBoosterModel(LoadedModel):
    """An ``LGBMRegressor`` or bare ``Booster``, interpreted through its objective."""

    flavor = "lightgbm"

    def __init__(self, booster: Any, layout: FeatureLayout, objective: str) -> None:
        self._booster = booster
        self._layout = layout
        self._objective = objective

    @property
    def native(self) -> Any:
        return self._booster

    def describe(self) -> ModelDescription:
        task: Task = "unknown"
        classes: list[Any] | None = None
        if self.has_proba:
            task = "classification"
            classes = list(range(max(self._booster.num_model_per_iteration(), 2)))
        elif self._objective in _REGRESSION_OBJECTIVES:
            task = "regression"
        return ModelDescription(
            task=task, classes=classes, feature_names=self._layout.names, n_features=self._layout.count
        )

    def predict(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        if self.has_proba:
            return np.argmax(self.predict_proba(data), axis=1)
        return np.asarray(self._booster.predict(self._layout.table(data)))

    @property
    def has_proba(self) -> bool:
        return self._objective in _CLASSIFICATION_OBJECTIVES

    def predict_proba(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        if not self.has_proba:
            return super().predict_proba(data)
        return _probabilities(self._booster, self._layout.table(data))

    def predict_with_proba(self, data: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if not self.has_proba:
            return super().predict_with_proba(data)
        probabilities = self.predict_proba(data)
        return np.argmax(probabilities, axis=1), probabilities


def _probabilities(booster: Any, features: pd.DataFrame | np.ndarray) -> np.ndarray:
    raw = np.asarray(booster.predict(features))
    if raw.ndim == 1:  # binary: LightGBM returns P(class 1) only
        return np.vstack((1.0 - raw, raw)).transpose()
    return raw


def _kind_of(obj: Any) -> str | None:
    return wrapper_kind(obj, "lightgbm", CLASSIFIER, REGRESSOR, ("Booster", "LGBMModel"))


def _json_labels(classes: Any) -> list[Any] | None:
    """Class labels as plain JSON values, or None when some label is not a string, number or bool."""
    labels = [label.item() if isinstance(label, np.generic) else label for label in classes]
    if not all(isinstance(label, str | int | float | bool) for label in labels):
        return None
    if any(isinstance(label, float) and not math.isfinite(label) for label in labels):
        return None
    return labels


def _named_features(booster: Any) -> list[str] | None:
    names: list[str] = booster.feature_name()
    return None if _are_generated(names) else names


def _are_generated(names: list[str]) -> bool:
    """LightGBM names unnamed features Column_0, Column_1, …; those are not names a caller can match."""
    return names == [f"Column_{index}" for index in range(len(names))]


def _read_header(path: Path) -> dict[str, str]:
    """The ``key=value`` lines at the top of a LightGBM text model (objective, feature_names, …)."""
    header: dict[str, str] = {}
    try:
        with path.open(encoding="utf-8", errors="replace") as stream:
            for _, line in zip(range(_MAX_HEADER_LINES), stream, strict=False):
                line = line.rstrip("\r\n")
                if not line and header:
                    break
                key, separator, value = line.partition("=")
                if separator:
                    header[key] = value
    except OSError:
        return header
    return header
