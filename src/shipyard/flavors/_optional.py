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


def installed(module: str) -> ModuleType | None:
    """``module`` imported if it is installed, else None: for optional checks that must not fail."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None
