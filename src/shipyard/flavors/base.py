"""The one interface every model format ("flavor") answers.

A flavor knows how to recognise a fitted model object or a saved file, save the object to ONE file, and
load that file back into a ``LoadedModel`` that predicts exactly what the original predicted. The registry
never touches a model any other way, so serving, batch and gates treat every format alike.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # the registry reads descriptions without numpy or pandas: see ``_plain``
    import numpy as np
    import pandas as pd

Task = Literal["classification", "regression", "unknown"]


@dataclass(frozen=True)
class ModelDescription:
    """What a model says about itself: enough to validate input and label output."""

    task: Task
    classes: list[Any] | None = None
    feature_names: list[str] | None = None
    n_features: int | None = None

    def __post_init__(self) -> None:
        # Libraries hand back numpy scalars (sklearn's classes_ are np.int64, np.str_): keep Python values,
        # so the description prints as [0, 1], not [np.int64(0), np.int64(1)], and compares and serialises
        # like what the user trained on.
        object.__setattr__(self, "classes", _plain(self.classes))
        object.__setattr__(self, "feature_names", _plain(self.feature_names))
        numpy = sys.modules.get("numpy")
        if numpy is not None and isinstance(self.n_features, numpy.integer):
            object.__setattr__(self, "n_features", int(self.n_features))

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "classes": self.classes,
            "feature_names": self.feature_names,
            "n_features": self.n_features,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelDescription:
        return cls(
            task=data.get("task", "unknown"),
            classes=data.get("classes"),
            feature_names=data.get("feature_names"),
            n_features=data.get("n_features"),
        )


def _plain(values: Iterable[Any] | None) -> list[Any] | None:
    """A list with numpy scalars turned into Python ones (None stays None)."""
    if values is None:
        return None
    # No value is a numpy scalar unless numpy is loaded: a description read back from the registry (plain
    # JSON) must not load it, a server's supervisor has no other use for it.
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return list(values)
    return [value.item() if isinstance(value, numpy.generic) else value for value in values]


class LoadedModel(ABC):
    """A model ready to predict. Input is a DataFrame (or anything ``pd.DataFrame`` accepts)."""

    flavor: str

    @property
    @abstractmethod
    def native(self) -> Any:
        """The underlying library object (sklearn estimator, xgboost model, onnx session, …)."""

    @abstractmethod
    def describe(self) -> ModelDescription:
        """Task, classes, feature names and count, as far as the format records them."""

    @abstractmethod
    def predict(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Predictions: class labels for classifiers, values for regressors."""

    @property
    def has_proba(self) -> bool:
        """Whether ``predict_proba`` is available for this model."""
        return False

    def predict_proba(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Class probabilities, shape (rows, classes), columns in ``describe().classes`` order."""
        from shipyard.errors import InvalidInput

        raise InvalidInput(
            f"this {self.flavor} model has no predict_proba (it is not a probabilistic classifier)"
        )

    def predict_with_proba(self, data: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``predict`` and, when the model has it, ``predict_proba``, from as few model passes as possible.

        The default makes both calls. A flavor whose classifiers label each row with its most probable class
        overrides it to read the labels off one ``predict_proba`` pass (see ``most_probable_class``); the
        result is the same either way.
        """
        predictions = self.predict(data)
        return predictions, self.predict_proba(data) if self.has_proba else None


def most_probable_class(classes: Any, probabilities: np.ndarray, predict: Callable[[], Any]) -> np.ndarray:
    """The labels of a classifier whose label is its most probable class: ``classes[argmax(probabilities)]``.

    Such a classifier's own ``predict`` agrees wherever one class is strictly the most probable, but not
    always on a tie: HistGradientBoosting labels a binary row 1 when its raw score is > 0 and
    GradientBoosting when it is >= 0, and expit/softmax can round two different scores to the same
    probability. So when any row's top probability is shared (or not a number), or the probabilities do
    not have one column per class, the labels come from ``predict()`` instead, as the two calls would.
    """
    import numpy as np  # loaded already: the model computed ``probabilities``

    labels = np.asarray(classes)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(labels) or len(probabilities) == 0:
        return np.asarray(predict())
    top = probabilities.max(axis=1, keepdims=True)
    if not np.isfinite(top).all() or ((probabilities == top).sum(axis=1) > 1).any():
        return np.asarray(predict())
    return labels[probabilities.argmax(axis=1)]


@dataclass(frozen=True)
class SavedModel:
    """What ``Flavor.save`` produced: the file, and format details needed to load it again."""

    path: Path
    metadata: dict[str, Any] = field(default_factory=dict)


class Flavor(ABC):
    """A model format. Subclasses are stateless; one instance of each lives in ``shipyard.flavors``."""

    #: short name stored in the registry ("sklearn", "xgboost", "lightgbm", "onnx", "python", …)
    name: str
    #: file name used inside the artifact store's temporary directories
    file_name: str
    #: True when loading a file of this format can execute arbitrary code (pickle and friends)
    needs_trust: bool = False

    @abstractmethod
    def accepts_object(self, obj: Any) -> bool:
        """Whether ``obj`` is a fitted model this flavor can save."""

    def rejection_reason(self, obj: Any) -> str | None:
        """Why ``obj``, which is this flavor's kind of model, cannot be saved as it is (e.g. not fitted).

        ``None`` when the flavor has no objection, including when ``obj`` is simply not its kind. Detection
        asks this before ``accepts_object`` so an unfitted estimator is refused with the real reason instead
        of falling through to a more generic flavor.
        """
        return None

    @abstractmethod
    def accepts_file(self, path: Path) -> bool:
        """Whether ``path`` holds a saved model of this format (cheap sniffing; must not run code)."""

    @abstractmethod
    def save(self, obj: Any, directory: Path) -> SavedModel:
        """Write ``obj`` to a single file inside ``directory``; return it and format metadata."""

    @abstractmethod
    def load(self, path: Path, metadata: dict[str, Any], *, trust: bool = False) -> LoadedModel:
        """Load the file written by ``save`` (or a user's saved file that ``accepts_file``)."""

    def inspect_file(self, path: Path, *, trust: bool = False) -> dict[str, Any]:
        """Format metadata for a user-supplied saved file, as ``save`` would have returned it."""
        return {}
