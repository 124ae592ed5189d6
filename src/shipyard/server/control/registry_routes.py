"""Models, versions, aliases and the audit trail over HTTP: the registry's Python API, one route each.

Reads need any role; rolling an alias back needs an operator; moving an alias (promote through the gate,
or set by hand) needs an admin. A promotion the gate refuses answers 409 with the gate report beside
the error. Bodies are validated by pydantic, so a wrong type is a 422 naming the field, and every registry
error keeps its own status and message.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from shipyard.access import Role
from shipyard.errors import GateFailed, InvalidInput
from shipyard.gates import GateReport, gate_runs, promote
from shipyard.registry import Registry, VersionMetadata
from shipyard.server.control.identity import Reader, needs

router = APIRouter(prefix="/api/v1", tags=["registry"])
Operator = Annotated[Registry, Depends(needs(Role.OPERATOR, "rollback"))]
Registrar = Annotated[Registry, Depends(needs(Role.OPERATOR, "registering a version"))]
#: What a registration's ``metadata`` form field may hold (a ``VersionMetadata``, but no local path).
METADATA_KEYS = tuple(f.name for f in dataclasses.fields(VersionMetadata) if f.name != "code_dir")
Admin = Annotated[Registry, Depends(needs(Role.ADMIN, "moving an alias"))]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Promotion(_Body):
    version: int = Field(ge=1, description="the version that asks for the alias")
    reason: str = ""
    force: bool = Field(False, description="move it even if the gate fails (needs a reason)")


class AliasMove(_Body):
    version: int = Field(ge=1)
    reason: str = ""


class Rollback(_Body):
    to: int | None = Field(None, ge=1, description="this version instead of the one before the last move")
    reason: str = ""


@router.get("/models", summary="Every model, with its aliases")
def list_models(registry: Reader) -> list[dict[str, Any]]:
    return [model.to_dict() for model in registry.list_models()]


@router.get("/models/{name}", summary="A model and its versions")
def get_model(name: str, registry: Reader) -> dict[str, Any]:
    model = registry.get_model(name)
    return {**model.to_dict(), "versions": [version.to_dict() for version in registry.list_versions(name)]}


@router.post("/models/{name}/versions", summary="Register a version from a saved model file")
def register_version(
    name: str,
    registry: Registrar,
    file: Annotated[UploadFile, File(description="the saved model, as the flavor writes it")],
    flavor: Annotated[str | None, Form(description="the format; detected when left out")] = None,
    description: Annotated[str, Form()] = "",
    metadata: Annotated[str, Form(description=f"JSON object with any of: {', '.join(METADATA_KEYS)}")] = "{}",
    reference: Annotated[UploadFile | None, File(description="reference rows, CSV or Parquet")] = None,
    reason: Annotated[str, Form()] = "",
) -> dict[str, Any]:
    """The upload is loaded back once before it is stored, as a local registration is; formats that can
    run code when loaded are refused (the server never trusts an upload)."""
    recorded = _metadata(metadata)
    with tempfile.TemporaryDirectory(prefix="shipyard-upload-") as scratch:
        model_path = _saved(file, Path(scratch) / "model")
        reference_path = _saved(reference, Path(scratch) / "reference") if reference is not None else None
        version = registry.register(
            name,
            path=model_path,
            flavor=flavor,
            description=description,
            metadata=recorded,
            reference=reference_path,
            reason=reason,
        )
    return version.to_dict()


def _metadata(text: str) -> VersionMetadata:
    try:
        fields = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"metadata is not JSON: {error}") from None
    if not isinstance(fields, dict):
        raise InvalidInput(f"metadata must be a JSON object, got {type(fields).__name__}")
    unknown = sorted(set(fields) - set(METADATA_KEYS))
    if unknown:
        known = ", ".join(METADATA_KEYS)
        raise InvalidInput(f"metadata has no key(s) {', '.join(unknown)}; it takes {known}")
    return VersionMetadata(**fields)


def _saved(upload: UploadFile, folder: Path) -> Path:
    """The upload written to ``folder`` under its own file name (the format is told by its suffix)."""
    folder.mkdir()
    path = folder / Path(upload.filename or "upload").name
    with path.open("wb") as sink:
        shutil.copyfileobj(upload.file, sink)
    return path


@router.get("/models/{name}/versions/{version}", summary="One version: metrics, lineage, contract, card")
def get_version(name: str, version: int, registry: Reader) -> dict[str, Any]:
    return registry.get_version(name, version).to_dict()


@router.get(
    "/models/{name}/versions/{version}/gate-runs", summary="Every gate run of a version, oldest first"
)
def version_gate_runs(name: str, version: int, registry: Reader) -> list[dict[str, Any]]:
    return gate_runs(registry, f"{name}/{version}")


@router.get("/models/{name}/alias-history", summary="Every move of the model's aliases, oldest first")
def model_alias_history(name: str, registry: Reader) -> list[dict[str, Any]]:
    return [change.to_dict() for change in registry.alias_history(name)]


@router.get("/models/{name}/aliases/{alias}", summary="The version an alias points at")
def resolve_alias(name: str, alias: str, registry: Reader) -> dict[str, Any]:
    return registry.resolve(f"{name}@{alias}").to_dict()


@router.get("/models/{name}/aliases/{alias}/history", summary="Every move of an alias, oldest first")
def alias_history(name: str, alias: str, registry: Reader) -> list[dict[str, Any]]:
    return [change.to_dict() for change in registry.alias_history(name, alias)]


@router.post(
    "/models/{name}/aliases/{alias}/promote",
    summary="Gate a version and move the alias to it",
    responses={409: {"description": "The gate refused it: the error, and the gate report under 'gate'"}},
)
def promote_version(name: str, alias: str, body: Promotion, registry: Admin) -> Any:
    try:
        report, change = promote(
            registry, f"{name}/{body.version}", alias, force=body.force, reason=body.reason
        )
    except GateFailed as refusal:  # the caller is owed the report that says which checks failed
        error = {"type": type(refusal).__name__, "message": str(refusal)}
        gate = refusal.report.to_dict() if isinstance(refusal.report, GateReport) else None
        return JSONResponse({"error": error, "gate": gate}, status_code=refusal.http_status)
    return {"change": change.to_dict(), "gate": report.to_dict()}


@router.put("/models/{name}/aliases/{alias}", summary="Point an alias at a version (no gate)")
def set_alias(name: str, alias: str, body: AliasMove, registry: Admin) -> dict[str, Any]:
    return registry.set_alias(name, alias, body.version, reason=body.reason).to_dict()


@router.delete("/models/{name}/aliases/{alias}", summary="Delete an alias (a rollback restores it)")
def delete_alias(name: str, alias: str, registry: Admin, reason: str = "") -> dict[str, Any]:
    return registry.delete_alias(name, alias, reason=reason).to_dict()


@router.post("/models/{name}/aliases/{alias}/rollback", summary="Move an alias back (or to a version)")
def rollback(name: str, alias: str, body: Rollback, registry: Operator) -> dict[str, Any]:
    return registry.rollback(f"{name}@{alias}", to=body.to, reason=body.reason).to_dict()


@router.get("/audit", summary="The newest audit events, oldest first")
def audit(
    registry: Reader,
    model: str | None = None,
    action: Annotated[str | None, Query(description="an action or its prefix, e.g. 'alias.'")] = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[dict[str, Any]]:
    return [event.to_dict() for event in registry.audit(model=model, action=action, since=since, limit=limit)]
