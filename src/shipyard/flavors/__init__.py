"""Model formats ("flavors"): recognise a fitted model or a saved file, save it, load it back.

The registry stores every model version as one file plus a small metadata dict and never looks inside;
this package is the only place that knows what those files are. ``flavor_for_object`` picks the format
for something a user registers from Python, ``flavor_for_file`` for a file they point at, and
``get_flavor`` the one recorded with a stored version.

``import shipyard.flavors`` loads the interface (``base``) only; the formats and the choice between them
(``formats``), which load numpy and pandas, load on first use, so the registry reads a version's
description without them. No optional library (xgboost, torch, …) loads before a model needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard._lazy_exports import lazy_exports
from shipyard.flavors.base import Flavor, LoadedModel, ModelDescription, SavedModel

if TYPE_CHECKING:
    from shipyard.flavors.formats import FLAVOR_NAMES, flavor_for_file, flavor_for_object, get_flavor

__all__ = [
    "FLAVOR_NAMES",
    "Flavor",
    "LoadedModel",
    "ModelDescription",
    "SavedModel",
    "flavor_for_file",
    "flavor_for_object",
    "get_flavor",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {"shipyard.flavors.formats": ("FLAVOR_NAMES", "flavor_for_file", "flavor_for_object", "get_flavor")},
    )
