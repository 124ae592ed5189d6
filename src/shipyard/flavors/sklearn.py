"""scikit-learn estimators and pipelines, stored with skops instead of pickle.

skops writes a zip of JSON and ``.npy`` files and rebuilds the estimator without running pickle, so a file
in the registry cannot smuggle in code the way a pickle can. What it cannot avoid is importing every class
the file names. shipyard therefore loads a file on its own only when each type skops does not already
trust is a *class* from scikit-learn, NumPy, SciPy, XGBoost or LightGBM, or one of NumPy's and SciPy's
ufuncs (elementwise math such as ``numpy.log1p`` or ``scipy.special.expit``). Other functions from those
packages are not widened this way (a function named in a file, such as ``numpy.load`` inside a
FunctionTransformer, is called on your data), and anything else — a custom transformer, another
library's estimator inside a Pipeline — needs ``trust=True``, because importing and rebuilding it runs its
author's code.

Serving wants labels and probabilities together. For the classifiers whose label is by construction their
most probable class (listed in ``_most_probable_class_estimators``), ``predict_with_proba`` runs a
Pipeline's transformers once and reads both from one ``predict_proba``; any other estimator gets the two
calls.

scikit-learn checks a DataFrame's column names on every call, which costs more than the model itself for a
single row (about 0.7 ms of 1.4 ms for a 100-tree HistGradientBoostingClassifier). The estimators in
``_array_estimators`` only ever read a DataFrame as one numeric array, so once ``FeatureLayout`` has put the
columns in the fitted order (it raises on a missing one), an all-numeric frame is handed over as that array,
and scikit-learn's warning about an array without names is silenced for exactly that message.
"""

from __future__ import annotations

import importlib
import json
import sys
import warnings
import zipfile
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput, Unauthorized
from shipyard.flavors._features import FeatureLayout
from shipyard.flavors._optional import loaded
from shipyard.flavors._process import is_own_process
from shipyard.flavors._sniffing import zip_member_names
from shipyard.flavors.base import (
    Flavor,
    LoadedModel,
    ModelDescription,
    SavedModel,
    Task,
    most_probable_class,
)

#: Packages whose classes a skops file may name without the caller passing ``trust=True``. XGBoost's and
#: LightGBM's estimators are here because pipelines end in them so often, and rebuilding them only hands
#: the booster's own model bytes to the library's loader (no pickle).
_LIBRARY_PACKAGES = frozenset({"sklearn", "numpy", "scipy", "xgboost", "lightgbm"})
#: Individual standard-library classes that fitted estimators keep in their state.
_LIBRARY_CLASSES = frozenset({"collections.OrderedDict"})
_SCHEMA = "schema.json"


class SklearnFlavor(Flavor):
    """Fitted scikit-learn estimators and Pipelines, as one ``.skops`` file."""

    name = "sklearn"
    file_name = "model.skops"

    def rejection_reason(self, obj: Any) -> str | None:
        if not _is_estimator(obj):
            return None
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted

        label = type(obj).__name__
        try:
            check_is_fitted(obj)
        except NotFittedError:
            return f"{label} is not fitted: call fit() on it before registering it"
        if not callable(getattr(obj, "predict", None)):
            return (
                f"{label} has no predict() method: register a model, or a Pipeline that ends in one, "
                "not a transformer on its own"
            )
        return None

    def accepts_object(self, obj: Any) -> bool:
        return _is_estimator(obj) and self.rejection_reason(obj) is None

    def accepts_file(self, path: Path) -> bool:
        names = zip_member_names(path)
        if names is None or _SCHEMA not in names:
            return False
        schema = _read_schema(path)
        return schema is not None and "__loader__" in schema and "protocol" in schema

    def save(self, obj: Any, directory: Path) -> SavedModel:
        reason = self.rejection_reason(obj)
        if reason is not None:
            raise InvalidInput(reason)
        if not _is_estimator(obj):
            raise InvalidInput(
                f"the sklearn format saves fitted scikit-learn estimators; got {type(obj).__name__}"
            )
        import sklearn
        import skops

        skops_io = _import_skops_io()
        path = directory / self.file_name
        try:
            skops_io.dump(obj, path)
        except Exception as error:  # skops raises TypeError, ValueError, … for state it cannot express
            raise InvalidInput(
                f"skops cannot save this {type(obj).__name__}: {error}; "
                "register it with the 'python' format instead (loading it will then need trust)"
            ) from error
        metadata = {
            "serializer": "skops",
            "skops_version": skops.__version__,
            "sklearn_version": sklearn.__version__,
        }
        return SavedModel(path=path, metadata=metadata)

    def load(self, path: Path, metadata: dict[str, Any], *, trust: bool = False) -> LoadedModel:
        skops_io = _import_skops_io()
        try:
            untrusted = skops_io.get_untrusted_types(file=path)
        except Exception as error:  # a damaged zip or schema surfaces as many exception types
            raise InvalidInput(f"'{path.name}' is not a readable skops file: {error}") from error
        foreign = [type_name for type_name in untrusted if not _is_library_member(type_name)]
        if foreign and not trust:
            raise Unauthorized(
                f"'{path.name}' contains types from outside the trusted libraries (scikit-learn, NumPy, "
                f"SciPy, XGBoost, LightGBM): {', '.join(foreign)}. Loading it imports them and runs their "
                "code; pass trust=True "
                "(Python) or --trust (CLI) only if you trust whoever made this file"
            )
        try:
            estimator = skops_io.load(path, trusted=untrusted)
        except Exception as error:
            raise InvalidInput(f"skops could not load '{path.name}': {error}") from error
        if not callable(getattr(estimator, "predict", None)):
            raise InvalidInput(
                f"'{path.name}' holds a {type(estimator).__name__}, which has no predict() method"
            )
        return SklearnModel(estimator)

    def inspect_file(self, path: Path, *, trust: bool = False) -> dict[str, Any]:
        schema = _read_schema(path) or {}
        return {"serializer": "skops", "skops_version": schema.get("_skops_version")}


class SklearnModel(LoadedModel):
    """A scikit-learn estimator ready to predict; DataFrame columns are matched to ``feature_names_in_``."""

    flavor = "sklearn"

    def __init__(self, estimator: Any) -> None:
        self._estimator = estimator
        names = getattr(estimator, "feature_names_in_", None)
        self._layout = FeatureLayout(
            names=None if names is None else [str(name) for name in names],
            count=getattr(estimator, "n_features_in_", None),
        )
        self._single_pass = _single_pass(estimator)
        self._takes_arrays = names is not None and _reads_frames_as_arrays(estimator)
        if self._takes_arrays:
            _silence_array_without_names_warning()

    @property
    def native(self) -> Any:
        return self._estimator

    def describe(self) -> ModelDescription:
        from sklearn.base import is_classifier, is_regressor

        task: Task = "unknown"
        if is_classifier(self._estimator):
            task = "classification"
        elif is_regressor(self._estimator):
            task = "regression"
        classes = getattr(self._estimator, "classes_", None)
        # Multi-output classifiers keep one array of classes per output; there is no single label list.
        flat_classes = list(classes) if classes is not None and np.ndim(classes) == 1 else None
        return ModelDescription(
            task=task,
            classes=flat_classes,
            feature_names=self._layout.names,
            n_features=self._layout.count,
        )

    def predict(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        return np.asarray(self._estimator.predict(self._features(data)))

    @property
    def has_proba(self) -> bool:
        return callable(getattr(self._estimator, "predict_proba", None))

    def predict_proba(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        if not self.has_proba:
            return super().predict_proba(data)
        return np.asarray(self._estimator.predict_proba(self._features(data)))

    def predict_with_proba(self, data: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if self._single_pass is None:
            return super().predict_with_proba(data)
        transformers, classifier = self._single_pass
        features = self._features(data)
        for transformer in transformers:
            features = transformer.transform(features)
        probabilities = np.asarray(classifier.predict_proba(features))
        labels = most_probable_class(classifier.classes_, probabilities, lambda: classifier.predict(features))
        return labels, probabilities

    def _features(self, data: pd.DataFrame | np.ndarray) -> pd.DataFrame | np.ndarray:
        # An estimator fitted on an array warns when given named columns, so it gets an array back.
        table = self._layout.table(data)
        if self._takes_arrays and isinstance(table, pd.DataFrame) and _all_numeric(table):
            return table.to_numpy()
        return table


def _single_pass(estimator: Any) -> tuple[list[Any], Any] | None:
    """``(transformers, classifier)`` when the labels can be read off one ``predict_proba``, else None.

    ``classifier`` is the estimator, or a Pipeline's final step with ``transformers`` the steps before it,
    applied in turn as ``Pipeline.predict_proba`` applies them. (Not ``pipeline[:-1].transform``: that
    checks the shortened pipeline is fitted, which a stateless transformer of the user's never looks.)
    Types are matched exactly: a subclass may have its own ``predict``.
    """
    from sklearn.pipeline import Pipeline

    transformers: list[Any] = []
    classifier = estimator
    if type(estimator) is Pipeline:
        *steps, (_, classifier) = estimator.steps
        transformers = [step for _, step in steps if step is not None and step != "passthrough"]
    return (transformers, classifier) if _labels_are_most_probable_class(classifier) else None


def _labels_are_most_probable_class(classifier: Any) -> bool:
    """Whether ``classifier.predict`` labels each row with the most probable class of ``predict_proba``."""
    if type(classifier) in _most_probable_class_estimators():
        from sklearn.neighbors import KNeighborsClassifier

        classes = getattr(classifier, "classes_", None)
        if classes is None or np.ndim(classes) != 1 or getattr(classifier, "n_outputs_", 1) != 1:
            return False  # one label per output: predict_proba is a list of arrays
        # Distance weights are summed in a different order by predict and predict_proba, so near ties can
        # part ways; uniform weights are whole-number votes on both sides.
        return type(classifier) is not KNeighborsClassifier or (
            classifier.weights == "uniform" and not classifier.outputs_2d_
        )
    xgboost, lightgbm = loaded("xgboost"), loaded("lightgbm")
    if xgboost is not None and type(classifier) is xgboost.XGBClassifier:
        from shipyard.flavors.xgboost import labels_are_most_probable_class

        return labels_are_most_probable_class(classifier)
    if lightgbm is not None and type(classifier) is lightgbm.LGBMClassifier:
        return not callable(classifier.objective_)  # a custom objective's predict returns raw scores
    return False


def _reads_frames_as_arrays(estimator: Any) -> bool:
    """Whether the estimator turns a DataFrame into one numeric array and reads nothing else from it."""
    if type(estimator) not in _array_estimators():
        return False
    # HistGradientBoosting picks categorical features from pandas dtypes: those need the frame itself.
    categorical = getattr(estimator, "is_categorical_", None)
    return categorical is None or not np.any(categorical)


def _all_numeric(frame: pd.DataFrame) -> bool:
    return all(kind in "biuf" for kind in (dtype.kind for dtype in frame.dtypes))


_NAMES_WARNING = r"X does not have valid feature names, but \w+ was fitted with feature names"


def _silence_array_without_names_warning() -> None:
    """Put the filter first unless it is there already (one comparison per predict): a ``catch_warnings``
    block that ended since the last call may have taken it away."""
    if (
        not warnings.filters
        or warnings.filters[0][1] is None
        or warnings.filters[0][1].pattern != _NAMES_WARNING
    ):
        warnings.filterwarnings("ignore", message=_NAMES_WARNING)


@cache
def _array_estimators() -> frozenset[type]:
    """Estimators whose predict methods read a DataFrame only as ``np.asarray`` of its values."""
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression, Ridge
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    return frozenset(
        {
            HistGradientBoostingClassifier,
            HistGradientBoostingRegressor,
            RandomForestClassifier,
            RandomForestRegressor,
            ExtraTreesClassifier,
            ExtraTreesRegressor,
            GradientBoostingClassifier,
            GradientBoostingRegressor,
            DecisionTreeClassifier,
            DecisionTreeRegressor,
            LogisticRegression,
            LinearRegression,
            Ridge,
            Lasso,
        }
    )


@cache
def _most_probable_class_estimators() -> frozenset[type]:
    """scikit-learn classifiers whose ``predict`` is the argmax of ``predict_proba`` or of a score that
    ``predict_proba`` is a monotone function of (expit, softmax), so the two agree except on ties."""
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import BernoulliNB, CategoricalNB, ComplementNB, GaussianNB, MultinomialNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier

    return frozenset(
        {
            LogisticRegression,
            DecisionTreeClassifier,
            ExtraTreeClassifier,
            RandomForestClassifier,
            ExtraTreesClassifier,
            GradientBoostingClassifier,
            HistGradientBoostingClassifier,
            KNeighborsClassifier,
            GaussianNB,
            MultinomialNB,
            ComplementNB,
            BernoulliNB,
            CategoricalNB,
        }
    )


def _is_estimator(obj: Any) -> bool:
    base = loaded("sklearn.base")
    return base is not None and isinstance(obj, base.BaseEstimator) and not isinstance(obj, type)


def _is_library_member(type_name: str) -> bool:
    """Whether ``type_name`` (as skops reports it) is a class, or a ufunc (NumPy's and SciPy's elementwise
    math, which skops itself trusts), of a library shipyard trusts."""
    if type_name in _LIBRARY_CLASSES:
        return True
    module_name, _, attribute = type_name.rpartition(".")
    parts = module_name.split(".")
    if parts[0] not in _LIBRARY_PACKAGES:
        return False
    # The name comes from the file, and importing runs module code: never import a dunder module such as
    # numpy.f2py.__main__, which acts on import.
    if any(part.startswith("__") for part in parts):
        return False
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return False
    member = getattr(module, attribute, None)
    return isinstance(member, type) or _is_ufunc(member)


def _is_ufunc(member: object) -> bool:
    import numpy

    return isinstance(member, numpy.ufunc) or any(
        base.__name__ == "_UFuncWrapper" and base.__module__.startswith("scipy.")
        for base in type(member).__mro__
    )


def _read_schema(path: Path) -> dict[str, Any] | None:
    try:
        with zipfile.ZipFile(path) as archive, archive.open(_SCHEMA) as stream:
            schema = json.load(stream)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    return schema if isinstance(schema, dict) else None


#: scikit-learn's vendored array-API shim for PyTorch: a package that imports torch when imported.
_TORCH_SHIM = "sklearn.externals.array_api_compat.torch"


def import_loader() -> None:
    """Import what loading a skops file takes (scikit-learn, skops) ahead of any load: in the process that
    forks a server's workers, so that each worker forked has them already."""
    _import_skops_io()


def _import_skops_io() -> ModuleType:
    """``skops.io``, imported without importing PyTorch, and in shipyard's own processes without walking
    scikit-learn or SciPy's special functions at all.

    skops lists scikit-learn's estimators at import (``all_estimators``), whose package walk imports every
    subpackage, the PyTorch shim among them: with torch installed that cost every serving worker and CLI
    command about 2 s of CPU and 180 MiB. The walk skips the shim anyway (scikit-learn ignores
    ``externals``), so a placeholder stands in for it during the import, then steps aside. Without torch the
    walk still costs about 0.5 s and 15 MiB. skops also names each of SciPy's 230 special functions by
    searching every loaded module for it, about 0.25 s in a worker or CLI command. It reads both lists
    only to decide what it trusts by default; shipyard never relies on that default (it vets every type a
    file names, ``_is_library_member``), so in its own processes (``flavors._process``) both are left out.
    In someone else's process they are kept, for their own calls to skops.
    """
    if "skops.io" in sys.modules or "torch" in sys.modules or _TORCH_SHIM in sys.modules:
        import skops.io

        return skops.io
    import scipy
    import scipy.special
    import sklearn.utils

    listing, special = sklearn.utils.all_estimators, scipy.special
    sys.modules[_TORCH_SHIM] = ModuleType(_TORCH_SHIM)
    if is_own_process():
        sklearn.utils.all_estimators = _no_estimators
        scipy.special = _special_probe(special)
    try:
        import skops.io
    finally:
        del sys.modules[_TORCH_SHIM]
        sklearn.utils.all_estimators = listing
        scipy.special = special
    return skops.io


def _special_probe(special: ModuleType) -> ModuleType:
    """What skops sees as ``scipy.special`` while it imports: only ``exp10``, the function it probes to
    learn whether this SciPy wraps its special functions in a class of its own (SciPy 2)."""
    probe = ModuleType(special.__name__)
    if hasattr(special, "exp10"):
        probe.exp10 = special.exp10  # type: ignore[attr-defined]
    return probe


def _no_estimators(*args: object, **kwargs: object) -> list[tuple[str, type]]:
    return []
