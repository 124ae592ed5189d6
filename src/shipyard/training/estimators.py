"""Building the estimator a spec names: import it, instantiate it with its params, wrap preprocessing.

The import path may name a class (instantiated with the params) or a factory function (called with them),
so users can build any pipeline in their own code. "auto" preprocessing covers the common table: impute and
scale numeric columns, impute and one-hot encode categorical ones, all with scikit-learn's own transformers
so the fitted pipeline saves with skops and loads without needing trust.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from shipyard.contracts import Contract
from shipyard.errors import InvalidInput

_NUMERIC = {"integer", "float"}
_CATEGORICAL = {"category", "string", "boolean"}


def import_object(path: str) -> Any:
    """Import ``package.module.Name`` or ``package.module:Name``; InvalidInput naming the path otherwise."""
    module_name, separator, attribute = path.rpartition(":") if ":" in path else path.rpartition(".")
    if not separator or not module_name or not attribute:
        raise InvalidInput(f"estimator {path!r} is not an import path such as 'sklearn.linear_model.Ridge'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInput(f"cannot import module {module_name!r} for estimator {path!r}: {exc}") from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise InvalidInput(f"module {module_name!r} has no {attribute!r} (estimator {path!r})") from None


def build_estimator(path: str, params: Mapping[str, Any], seed: int) -> Any:
    """Instantiate the estimator; a ``random_state`` parameter it accepts defaults to the spec's seed."""
    target = import_object(path)
    if not callable(target):
        raise InvalidInput(f"estimator {path!r} is not a class or function")
    arguments = dict(params)
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        signature = None
    if signature is not None and "random_state" in signature.parameters and "random_state" not in arguments:
        arguments["random_state"] = seed
    try:
        estimator = target(**arguments)
    except TypeError as exc:
        raise InvalidInput(f"cannot build {path!r} with params {sorted(arguments)}: {exc}") from None
    if not (hasattr(estimator, "fit") and hasattr(estimator, "predict")):
        raise InvalidInput(f"{path!r} built a {type(estimator).__name__}, which has no fit()/predict()")
    return estimator


def with_preprocessing(estimator: Any, contract: Contract, features: Sequence[str]) -> Pipeline:
    """``estimator`` behind imputation, scaling and one-hot encoding chosen from the contract's types."""
    numeric = [name for name in features if contract.column(name).type in _NUMERIC]
    categorical = [name for name in features if contract.column(name).type in _CATEGORICAL]
    unsupported = [name for name in features if name not in numeric and name not in categorical]
    if unsupported:
        kinds = ", ".join(f"{name!r} ({contract.column(name).type})" for name in unsupported)
        raise InvalidInput(
            f"automatic preprocessing cannot use {kinds} as features; derive numeric features from them, "
            "exclude them (data.exclude), or set estimator.preprocess = 'none' with your own pipeline"
        )
    steps: list[tuple[str, BaseEstimator, list[str]]] = []
    if numeric:
        steps.append(("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric))
    if categorical:
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        steps.append(
            ("categorical", make_pipeline(SimpleImputer(strategy="most_frequent"), encoder), categorical)
        )
    return Pipeline([("features", ColumnTransformer(steps)), ("model", estimator)])


def simple_params(estimator: Any) -> dict[str, Any]:
    """The estimator's parameters that are plain values (what a model card and a comparison can show)."""
    inner = (
        estimator.named_steps["model"]
        if isinstance(estimator, Pipeline) and "model" in estimator.named_steps
        else estimator
    )
    get_params = getattr(inner, "get_params", None)
    if get_params is None:
        return {}
    return {
        key: value
        for key, value in get_params(deep=False).items()
        if value is None or isinstance(value, bool | int | float | str)
    }
