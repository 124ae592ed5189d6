"""The model formats by name, and the choice of one for a fitted object or a saved file.

Detection order matters. XGBoost's and LightGBM's scikit-learn wrappers are also scikit-learn estimators,
and nearly everything has a ``predict`` method, so the specific libraries are asked first and the generic
'python' format (pickle, loaded only with trust) last. Detecting an object never imports a library the
caller has not imported already.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shipyard.errors import InvalidInput, not_found
from shipyard.flavors.base import Flavor
from shipyard.flavors.lightgbm import LightGBMFlavor
from shipyard.flavors.onnx import OnnxFlavor
from shipyard.flavors.python import PythonFlavor
from shipyard.flavors.sklearn import SklearnFlavor
from shipyard.flavors.torch import TorchFlavor
from shipyard.flavors.xgboost import XGBoostFlavor

_SKLEARN = SklearnFlavor()
_XGBOOST = XGBoostFlavor()
_LIGHTGBM = LightGBMFlavor()
_ONNX = OnnxFlavor()
_TORCH = TorchFlavor()
_PYTHON = PythonFlavor()

#: Most specific first: the XGBoost and LightGBM wrappers are scikit-learn estimators too, and the
#: 'python' format takes anything with a predict() method.
_OBJECT_ORDER: tuple[Flavor, ...] = (_XGBOOST, _LIGHTGBM, _ONNX, _TORCH, _SKLEARN, _PYTHON)
#: Zip-based formats first (skops, TorchScript), then ONNX's protobuf, XGBoost's JSON, LightGBM's text,
#: and pickle last; the sniffers do not overlap, the order only keeps the cheap checks early.
_FILE_ORDER: tuple[Flavor, ...] = (_SKLEARN, _TORCH, _ONNX, _XGBOOST, _LIGHTGBM, _PYTHON)
_BY_NAME: dict[str, Flavor] = {
    flavor.name: flavor for flavor in (_SKLEARN, _XGBOOST, _LIGHTGBM, _ONNX, _TORCH, _PYTHON)
}

#: Names of every model format, as stored in the registry.
FLAVOR_NAMES: tuple[str, ...] = tuple(_BY_NAME)


def get_flavor(name: str) -> Flavor:
    """The flavor called ``name``; NotFound naming the known formats when there is none."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise not_found("model format", name, candidates=FLAVOR_NAMES) from None


def flavor_for_object(obj: Any) -> Flavor:
    """The flavor that can save ``obj``; InvalidInput saying why when none can (unfitted, unsupported)."""
    for flavor in _OBJECT_ORDER:
        reason = flavor.rejection_reason(obj)
        if reason is not None:
            raise InvalidInput(reason)
        if flavor.accepts_object(obj):
            return flavor
    type_name = f"{type(obj).__module__}.{type(obj).__qualname__}"
    hint = "; if it is the path of a saved model file, register the file instead" if _is_path(obj) else ""
    raise InvalidInput(
        f"cannot register an object of type {type_name!r}: it is not a fitted model of a supported format "
        "(scikit-learn, XGBoost, LightGBM, ONNX, PyTorch, or any object with a predict() method via the "
        f"'python' format){hint}"
    )


def flavor_for_file(path: Path) -> Flavor:
    """The flavor of a saved model file, found from its content (never by running it)."""
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"no such file: '{path}'; check the path")
    if not path.is_file():
        raise InvalidInput(f"'{path.name}' is not a file; pass the saved model file itself")
    if path.stat().st_size == 0:
        raise InvalidInput(f"'{path.name}' is empty; it is not a saved model")
    for flavor in _FILE_ORDER:
        if flavor.accepts_file(path):
            return flavor
    raise InvalidInput(
        f"'{path.name}' is not a saved model in a format shipyard recognises: expected a skops file, a "
        "TorchScript archive, an ONNX model, an XGBoost JSON/UBJSON model, a LightGBM text model, or a "
        "pickle (the 'python' format; joblib files must be saved without compression)"
    )


def _is_path(obj: Any) -> bool:
    return isinstance(obj, str | Path)
