"""Taking a model in: save the caller's object (or copy their file, the one read of their path), load it
back once to prove it works and to describe it, and put its bytes in the content-addressed artifact store.

This happens before any database write, so a committed version always has its artifact.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidInput, Unauthorized
from shipyard.flavors import flavor_for_file, flavor_for_object, get_flavor
from shipyard.flavors.base import Flavor, LoadedModel, ModelDescription
from shipyard.store.artifacts import ArtifactInfo, ArtifactStore


@dataclass(frozen=True)
class StoredModel:
    """A model whose bytes are in the artifact store, with its format and self-description."""

    flavor: str
    flavor_metadata: dict[str, Any]
    info: ModelDescription
    artifact: ArtifactInfo


def store_model(
    artifacts: ArtifactStore,
    model: Any,
    path: str | Path | None,
    flavor: str | None,
    *,
    trust: bool,
    inspect: Callable[[LoadedModel, ModelDescription], None] | None = None,
) -> StoredModel:
    """Save ``model`` (or copy the file at ``path``) as ``flavor`` (detected when None) into ``artifacts``.

    ``inspect`` is called with the loaded model and its description before its bytes are stored: what it
    raises (reference data the model cannot score, say) stops the registration with nothing written.
    """
    with tempfile.TemporaryDirectory(prefix="shipyard-register-") as scratch:
        workdir = Path(scratch)
        if path is not None:
            chosen, saved_path, flavor_metadata = _take_file(Path(path), flavor, workdir, trust)
            trusted_load = trust
        else:
            chosen = get_flavor(flavor) if flavor else flavor_for_object(model)
            if flavor and not chosen.accepts_object(model):
                why = chosen.rejection_reason(model)
                raise InvalidInput(
                    why or f"an object of type {_type_name(model)!r} cannot be saved as {flavor!r}"
                )
            saved = chosen.save(model, workdir)
            saved_path, flavor_metadata = saved.path, saved.metadata
            trusted_load = True  # the file was written by us, just now, from the caller's own object
        loaded = chosen.load(saved_path, flavor_metadata, trust=trusted_load)
        info = loaded.describe()
        if inspect is not None:
            inspect(loaded, info)
        artifact = artifacts.put_file(saved_path)
    return StoredModel(chosen.name, flavor_metadata, info, artifact)


def _take_file(
    source: Path, flavor: str | None, workdir: Path, trust: bool
) -> tuple[Flavor, Path, dict[str, Any]]:
    """Copy a user's model file into scratch space (the one read of their path) and identify it."""
    if not source.is_file():
        raise InvalidInput(f"model file {str(source)!r} does not exist or is not a regular file")
    copy = workdir / "upload"
    copy.mkdir()
    local = copy / source.name
    shutil.copyfile(source, local)
    chosen = get_flavor(flavor) if flavor else flavor_for_file(local)
    if chosen.needs_trust and not trust:
        raise Unauthorized(
            f"{source.name!r} is a {chosen.name!r} model file, which can execute arbitrary code when "
            "loaded; pass trust=True (CLI: --trust) only if you trust whoever wrote it"
        )
    return chosen, local, chosen.inspect_file(local, trust=trust)


def _type_name(obj: object) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"
