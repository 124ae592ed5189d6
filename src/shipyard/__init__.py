"""shipyard: take a trained ML model to production and keep it healthy there.

The public API is what this module exports; everything else may change between releases.
"""

from shipyard._version import __version__
from shipyard.config import Settings, load_settings
from shipyard.contracts import Contract
from shipyard.datasets import DatasetVersion
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
from shipyard.registry import (
    AliasChange,
    AuditEvent,
    ModelVersion,
    RegisteredModel,
    Registry,
    VersionMetadata,
    render_model_card,
)
from shipyard.stats import Profile
from shipyard.workspace import init_workspace

# Training pulls in scikit-learn's model selection and metrics; load it on first use, not on import.
_LAZY = {
    "train": "shipyard.training",
    "reproduce": "shipyard.training",
    "TrainSpec": "shipyard.training",
    "TrainingResult": "shipyard.training",
    # The server pulls in Starlette and the serving engine: loaded when a program serves, not on import.
    "serve": "shipyard.server",
    "ServeOptions": "shipyard.server",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'shipyard' has no attribute {name!r}")


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
