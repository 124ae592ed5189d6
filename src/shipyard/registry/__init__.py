"""The model registry service: models, versions, aliases, rollback, audit trail and model cards."""

from shipyard.registry.card import render_model_card
from shipyard.registry.entities import AliasChange, AuditEvent, ModelVersion, RegisteredModel
from shipyard.registry.metadata import VersionMetadata
from shipyard.registry.registry import Registry

__all__ = [
    "AliasChange",
    "AuditEvent",
    "ModelVersion",
    "RegisteredModel",
    "Registry",
    "VersionMetadata",
    "render_model_card",
]
