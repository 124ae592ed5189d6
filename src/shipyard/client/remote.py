"""``RemoteRegistry``: the registry's Python API over the control plane's management API.

Reads return the records ``shipyard.registry`` returns (``ModelVersion``, ``AliasChange``…), rebuilt from
the JSON the server sends. ``register`` saves the model here, in the format the local registry would
choose, captures the lineage here (the git commit of *this* checkout), and uploads the file: the server
loads it back before storing it, and never loads a format that can run code. A server's error comes back
as the same shipyard error class with the server's message; a server that cannot be reached is
``Unavailable`` naming the URL.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from shipyard import errors
from shipyard.client.transport import ApiClient
from shipyard.errors import InvalidInput
from shipyard.flavors import flavor_for_object, get_flavor
from shipyard.refs import ModelRef
from shipyard.registry import AliasChange, AuditEvent, ModelVersion, RegisteredModel, VersionMetadata
from shipyard.registry import lineage as lineage_capture

URL_VARIABLE = "SHIPYARD_URL"
TOKEN_VARIABLE = "SHIPYARD_TOKEN"


def open_remote(url: str | None = None, token: str | None = None) -> RemoteRegistry:
    """The server at ``url`` (default ``$SHIPYARD_URL``) with ``token`` (default ``$SHIPYARD_TOKEN``)."""
    address = url or os.environ.get(URL_VARIABLE, "")
    if not address:
        raise errors.ConfigurationError(f"no server to talk to: set {URL_VARIABLE}=http://host:5000")
    return RemoteRegistry(address, token if token is not None else os.environ.get(TOKEN_VARIABLE))


class RemoteRegistry(ApiClient):
    """The registry of the workspace a ``shipyard server`` at ``url`` serves."""

    # -- models and versions ---------------------------------------------------------------------------
    def list_models(self) -> list[RegisteredModel]:
        return [RegisteredModel.from_dict(item) for item in self._call("GET", "/models")]

    def get_model(self, name: str) -> RegisteredModel:
        return RegisteredModel.from_dict(self._call("GET", f"/models/{name}"))

    def list_versions(self, name: str) -> list[ModelVersion]:
        return [ModelVersion.from_dict(item) for item in self._call("GET", f"/models/{name}")["versions"]]

    def get_version(self, name: str, version: int) -> ModelVersion:
        return ModelVersion.from_dict(self._call("GET", f"/models/{name}/versions/{version}"))

    def resolve(self, ref: str | ModelRef) -> ModelVersion:
        """``fraud/3``, ``fraud@production`` or ``fraud`` (the newest version), as ``Registry.resolve``."""
        parsed = ref if isinstance(ref, ModelRef) else ModelRef.parse(ref)
        if parsed.alias is not None:
            return ModelVersion.from_dict(self._call("GET", f"/models/{parsed.model}/aliases/{parsed.alias}"))
        if parsed.version is not None:
            return self.get_version(parsed.model, parsed.version)
        versions = self.list_versions(parsed.model)
        if not versions:
            raise errors.NotFound(f"model {parsed.model!r} has no versions yet")
        return versions[-1]

    def register(
        self,
        name: str,
        model: Any = None,
        *,
        path: str | Path | None = None,
        flavor: str | None = None,
        description: str = "",
        metadata: VersionMetadata | None = None,
        reference: str | Path | pd.DataFrame | None = None,
        reason: str = "",
    ) -> ModelVersion:
        """Register a new version from a fitted model object or a saved model file, as
        ``Registry.register`` does; the file travels to the server, the lineage is this machine's."""
        if (model is None) == (path is None):
            raise InvalidInput(
                "register needs exactly one of: a fitted model object, or path= to a saved model file"
            )
        recorded = _recorded_metadata(metadata or VersionMetadata())
        with tempfile.TemporaryDirectory(prefix="shipyard-upload-") as scratch:
            if model is not None:
                chosen = get_flavor(flavor) if flavor else flavor_for_object(model)
                source, flavor = chosen.save(model, Path(scratch)).path, chosen.name
            else:
                source = Path(str(path))
            files = {"file": _upload(source)}
            if reference is not None:
                files["reference"] = _upload(_reference_file(reference, Path(scratch)))
            form = {"description": description, "metadata": json.dumps(recorded), "reason": reason}
            if flavor:
                form["flavor"] = flavor
            try:
                answer = self._call("POST", f"/models/{name}/versions", data=form, files=files)
            finally:
                for _, handle in files.values():
                    handle.close()
        return ModelVersion.from_dict(answer)

    # -- aliases ---------------------------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: int, *, reason: str = "") -> AliasChange:
        body = {"version": version, "reason": reason}
        return AliasChange.from_dict(self._call("PUT", f"/models/{name}/aliases/{alias}", json=body))

    def rollback(self, ref: str, *, to: int | None = None, reason: str = "") -> AliasChange:
        parsed = ModelRef.parse(ref)
        if parsed.alias is None:
            raise InvalidInput(
                f"rollback needs an alias reference such as '{parsed.model}@production', got {ref!r}"
            )
        path = f"/models/{parsed.model}/aliases/{parsed.alias}/rollback"
        return AliasChange.from_dict(self._call("POST", path, json={"to": to, "reason": reason}))

    def promote(
        self, ref: str, to: str, *, force: bool = False, reason: str = ""
    ) -> tuple[dict[str, Any], AliasChange]:
        """Gate ``ref`` for the alias ``to`` on the server and move it if it passes: (gate report, move).
        A refusal is ``GateFailed`` whose ``report`` is the gate report's dict."""
        version = self.resolve(ref)
        body = {"version": version.version, "force": force, "reason": reason}
        answer = self._call("POST", f"/models/{version.model}/aliases/{to}/promote", json=body)
        return answer["gate"], AliasChange.from_dict(answer["change"])

    def delete_alias(self, name: str, alias: str, *, reason: str = "") -> AliasChange:
        return AliasChange.from_dict(
            self._call("DELETE", f"/models/{name}/aliases/{alias}", params={"reason": reason})
        )

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasChange]:
        """Every move of the model's aliases (or of one alias), oldest first."""
        path = f"/models/{name}/aliases/{alias}/history" if alias else f"/models/{name}/alias-history"
        return [AliasChange.from_dict(item) for item in self._call("GET", path)]

    def gate_runs(self, ref: str | ModelRef) -> list[dict[str, Any]]:
        """Every gate run of a version, oldest first, as ``shipyard.gates.gate_runs`` gives them."""
        version = self.resolve(ref)
        runs: list[dict[str, Any]] = self._call(
            "GET", f"/models/{version.model}/versions/{version.version}/gate-runs"
        )
        return runs

    def audit(
        self,
        *,
        model: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[AuditEvent]:
        params: dict[str, Any] = {"limit": limit}
        for key, value in (("model", model), ("action", action), ("since", since)):
            if value:
                params[key] = value.isoformat() if isinstance(value, datetime) else value
        return [AuditEvent.from_dict(item) for item in self._call("GET", "/audit", params=params)]


def _recorded_metadata(metadata: VersionMetadata) -> dict[str, Any]:
    """The metadata to send: cleaned here, with this machine's lineage in place of ``code_dir``."""
    clean = metadata.cleaned()
    lineage = clean.lineage or lineage_capture.capture(
        actor="",  # the server records who registered it, from the token
        code_dir=Path(clean.code_dir) if clean.code_dir is not None else None,
        datasets=clean.datasets,
        seed=clean.seed,
    )
    fields = dataclasses.asdict(dataclasses.replace(clean, code_dir=None, lineage=lineage))
    fields.pop("code_dir")
    return fields


def _upload(path: Path) -> tuple[str, Any]:
    if not path.is_file():
        raise InvalidInput(f"model file {str(path)!r} does not exist or is not a regular file")
    return path.name, path.open("rb")


def _reference_file(reference: str | Path | pd.DataFrame, scratch: Path) -> Path:
    if isinstance(reference, pd.DataFrame):
        written = scratch / "reference.parquet"
        reference.to_parquet(written, index=False)
        return written
    return Path(reference)
