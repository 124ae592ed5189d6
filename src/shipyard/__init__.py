"""shipyard: take a trained ML model to production and keep it healthy there.

The public API is what this module exports; everything else may change between releases.
"""

from shipyard.config import Settings, load_settings
from shipyard.errors import (
    ConfigurationError,
    Conflict,
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
    render_model_card,
)
from shipyard.workspace import init_workspace

__version__ = "0.1.0"

__all__ = [
    "AliasChange",
    "AuditEvent",
    "ConfigurationError",
    "Conflict",
    "GateFailed",
    "IntegrityError",
    "InvalidInput",
    "MissingDependency",
    "ModelRef",
    "ModelVersion",
    "NotFound",
    "RegisteredModel",
    "Registry",
    "Settings",
    "ShipyardError",
    "Unauthorized",
    "__version__",
    "init_workspace",
    "load_settings",
    "render_model_card",
]
