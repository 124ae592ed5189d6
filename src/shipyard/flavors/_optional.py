"""Importing the optional libraries behind some flavors, with an error that says which extra to install.

XGBoost, LightGBM, ONNX Runtime and torch are heavy and optional. Flavors import them only inside the code
that needs them, through ``require``, so ``import shipyard`` stays fast and works without them, and a
missing one surfaces as ``MissingDependency`` naming ``pip install 'shipyard[extra]'``.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from shipyard.errors import MissingDependency


def require(module: str, *, extra: str, purpose: str, package: str | None = None) -> ModuleType:
    """Import ``module`` or raise MissingDependency naming the pip extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingDependency(package or module.split(".")[0], extra, purpose) from error


def loaded(module: str) -> ModuleType | None:
    """``module`` if something already imported it, else None.

    An object can only be an instance of a library's class if that library is imported, so detection asks
    this instead of importing libraries the caller never used.
    """
    return sys.modules.get(module)


def wrapper_kind(
    obj: object, module: str, classifier: str, regressor: str, bases: tuple[str, ...]
) -> str | None:
    """Which of a gradient-boosting library's objects ``obj`` is: its scikit-learn classifier or regressor
    wrapper (by class name), any other of its ``bases`` (reported as "Booster"), or None. XGBoost and
    LightGBM share this shape; the library is looked up only if the caller already imported it."""
    library = loaded(module)
    if library is None or isinstance(obj, type):
        return None
    for name in (classifier, regressor):
        if isinstance(obj, getattr(library, name)):
            return name
    if isinstance(obj, tuple(getattr(library, base) for base in bases)):
        return "Booster"
    return None


def installed(module: str) -> ModuleType | None:
    """``module`` imported if it is installed, else None: for optional checks that must not fail."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None
