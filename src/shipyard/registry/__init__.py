"""The model registry service: models, versions, aliases, rollback, audit trail and model cards.

Names are imported on first use: ``VersionMetadata`` or ``ModelVersion`` alone load no database driver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard._lazy_exports import lazy_exports

if TYPE_CHECKING:
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

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "shipyard.registry.card": ("render_model_card",),
            "shipyard.registry.entities": ("AliasChange", "AuditEvent", "ModelVersion", "RegisteredModel"),
            "shipyard.registry.metadata": ("VersionMetadata",),
            "shipyard.registry.registry": ("Registry",),
        },
    )
