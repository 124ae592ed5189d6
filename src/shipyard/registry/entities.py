"""What the registry hands back: plain, immutable records of models, versions, aliases and audit events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shipyard.flavors.base import ModelDescription


@dataclass(frozen=True)
class RegisteredModel:
    """A named model: the home of its versions and aliases."""

    name: str
    description: str
    tags: dict[str, str]
    latest_version: int | None
    aliases: dict[str, int]
    created_at: datetime
    created_by: str
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "tags": self.tags,
            "latest_version": self.latest_version,
            "aliases": self.aliases,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class ModelVersion:
    """One immutable version of a model and everything recorded about it."""

    model: str
    version: int
    flavor: str
    flavor_metadata: dict[str, Any]
    artifact_sha256: str
    artifact_size: int
    info: ModelDescription
    input_schema: dict[str, Any] | None
    metrics: dict[str, Any]
    params: dict[str, Any]
    tags: dict[str, str]
    description: str
    lineage: dict[str, Any]
    created_at: datetime
    created_by: str
    aliases: tuple[str, ...] = field(default=())
    profile: dict[str, Any] | None = None
    training: dict[str, Any] | None = None

    @property
    def ref(self) -> str:
        """The canonical reference, ``name/version``."""
        return f"{self.model}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "ref": self.ref,
            "aliases": list(self.aliases),
            "flavor": self.flavor,
            "flavor_metadata": self.flavor_metadata,
            "artifact": {"sha256": self.artifact_sha256, "size": self.artifact_size},
            "info": self.info.to_dict(),
            "input_schema": self.input_schema,
            "metrics": self.metrics,
            "params": self.params,
            "tags": self.tags,
            "description": self.description,
            "lineage": self.lineage,
            "profile": self.profile,
            "training": self.training,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }


@dataclass(frozen=True)
class AliasChange:
    """One move of an alias; ``version`` is None when the alias was deleted."""

    model: str
    alias: str
    action: str
    previous_version: int | None
    version: int | None
    at: datetime
    actor: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "alias": self.alias,
            "action": self.action,
            "previous_version": self.previous_version,
            "version": self.version,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class AuditEvent:
    """One change to the registry: who did what to which target, from what to what, and why."""

    id: int
    at: datetime
    actor: str
    action: str
    model: str | None
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "model": self.model,
            "target": self.target,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
        }
