"""shipyard: take a trained ML model to production and keep it healthy there.

The public API is what this module exports; everything else may change between releases.

Only the version, the errors and model references load with ``import shipyard``; every other name is
imported on first use (PEP 562), so a command line, a server's supervisor or a script that needs one
name does not pay for pandas, pyarrow, SQLAlchemy or scikit-learn it never touches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard._lazy_exports import lazy_exports
from shipyard._version import __version__
from shipyard.errors import (
    ConfigurationError,
    Conflict,
    ContractViolation,
    GateFailed,
    IntegrityError,
    InvalidInput,
    MissingDependency,
    NotFound,
    ShipyardError,
    Unauthorized,
)
from shipyard.refs import ModelRef

if TYPE_CHECKING:  # what type checkers and editors see; at run time each is imported on first use
    from shipyard.config import Settings, load_settings
    from shipyard.contracts import Contract
    from shipyard.datasets import DatasetVersion
    from shipyard.registry import (
        AliasChange,
        AuditEvent,
        ModelVersion,
        RegisteredModel,
        Registry,
        VersionMetadata,
        render_model_card,
    )
    from shipyard.server import ServeOptions, serve
    from shipyard.stats import Profile
    from shipyard.training import TrainingResult, TrainSpec, reproduce, train
    from shipyard.workspace import init_workspace

__all__ = [
    "AliasChange",
    "AuditEvent",
    "ConfigurationError",
    "Conflict",
    "Contract",
    "ContractViolation",
    "DatasetVersion",
    "GateFailed",
    "IntegrityError",
    "InvalidInput",
    "MissingDependency",
    "ModelRef",
    "ModelVersion",
    "NotFound",
    "Profile",
    "RegisteredModel",
    "Registry",
    "ServeOptions",
    "Settings",
    "ShipyardError",
    "TrainSpec",
    "TrainingResult",
    "Unauthorized",
    "VersionMetadata",
    "__version__",
    "init_workspace",
    "load_settings",
    "render_model_card",
    "reproduce",
    "serve",
    "train",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "shipyard.config": ("Settings", "load_settings"),
            "shipyard.contracts": ("Contract",),
            "shipyard.datasets": ("DatasetVersion",),
            "shipyard.registry": (
                "AliasChange",
                "AuditEvent",
                "ModelVersion",
                "RegisteredModel",
                "Registry",
                "VersionMetadata",
                "render_model_card",
            ),
            "shipyard.stats": ("Profile",),
            "shipyard.workspace": ("init_workspace",),
            # Training pulls in scikit-learn's model selection, the server Starlette and the engine.
            "shipyard.training": ("train", "reproduce", "TrainSpec", "TrainingResult"),
            "shipyard.server": ("serve", "ServeOptions"),
        },
    )
