"""The model registry: named models, immutable numbered versions, aliases, rollback and an audit trail.

This is the Python API the CLI and the server call. It checks what callers pass and decides the rules;
the repositories in ``shipyard.store`` run each change in one database transaction that also writes its
audit event, so the trail can never disagree with the state. Model bytes go to the content-addressed
artifact store before the version row is committed, so a committed version always has its artifact.

Reading the registry (resolving a reference, listing, moving aliases) loads no numpy, pandas or pyarrow:
a server's supervisor does only that. Registering, profiling, loading a model and the dataset catalog
import what they need when first called.
"""

from __future__ import annotations

import dataclasses
import functools
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.config import Settings, load_settings
from shipyard.errors import Conflict, InvalidInput, Unauthorized
from shipyard.refs import ModelRef, validate_alias, validate_name
from shipyard.registry import lineage as lineage_capture
from shipyard.registry.aliases import check_action, rollback_target, version_number
from shipyard.registry.entities import AliasChange, AuditEvent, ModelVersion, RegisteredModel
from shipyard.registry.metadata import VersionMetadata, clean_tags
from shipyard.store.aliases import ANY_VERSION, AliasRepository
from shipyard.store.artifacts import ArtifactInfo, ArtifactStore
from shipyard.store.audit import AuditLog
from shipyard.store.database import Database
from shipyard.store.models import ModelRepository, NewVersion

if TYPE_CHECKING:  # imported where used: they load numpy, pandas and pyarrow (see the module docstring)
    from shipyard.datasets import DatasetCatalog
    from shipyard.flavors.base import LoadedModel, ModelDescription
    from shipyard.registry.reference import Reference, ReferenceData
    from shipyard.registry.registration import StoredModel


class Registry:
    """The registry of one workspace. ``Registry()`` opens the current workspace (creating the database
    and applying migrations as needed); pass ``home=`` or setting overrides to open another."""

    def __init__(self, settings: Settings | None = None, *, home: str | Path | None = None, **overrides: Any):
        settings = settings if settings is not None else load_settings(home, **overrides)
        database = Database(settings.registry_url, busy_timeout=settings.busy_timeout)
        self._bind(settings, database, ArtifactStore(settings.artifacts_url), owns_database=True)

    def _bind(
        self, settings: Settings, db: Database, artifacts: ArtifactStore, *, owns_database: bool
    ) -> None:
        self.settings, self.db, self.artifacts, self.actor = settings, db, artifacts, settings.actor
        self._owns_database = owns_database
        self._models = ModelRepository(self.db, self.actor)
        self._aliases = AliasRepository(self.db, self.actor)
        self._audit_log = AuditLog(self.db)

    @functools.cached_property
    def datasets(self) -> DatasetCatalog:
        """The workspace's dataset versions."""
        from shipyard.datasets import DatasetCatalog

        return DatasetCatalog(self.db, self.artifacts, self.actor)

    def acting_as(self, actor: str) -> Registry:
        """This registry with every change audited as ``actor`` (a server's signed-in user), sharing its
        database connections; closing it leaves them open for the registry it came from."""
        view = Registry.__new__(Registry)
        settings = dataclasses.replace(self.settings, actor=actor)
        view._bind(settings, self.db, self.artifacts, owns_database=False)
        return view

    def close(self) -> None:
        if self._owns_database:
            self.db.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- models -----------------------------------------------------------------------------------------
    def create_model(
        self, name: str, *, description: str = "", tags: Mapping[str, Any] | None = None, reason: str = ""
    ) -> RegisteredModel:
        """Create an empty named model. Registering a version creates the model implicitly too."""
        validate_name(name)
        if not self._models.create(name, description, clean_tags(tags), reason=reason):
            raise Conflict(f"model {name!r} already exists; register a new version of it instead")
        return self.get_model(name)

    def get_model(self, name: str) -> RegisteredModel:
        return self._models.get(name)

    def list_models(self) -> list[RegisteredModel]:
        return self._models.all()

    def update_model(self, name: str, *, description: str, reason: str = "") -> RegisteredModel:
        """Replace a model's description (Markdown)."""
        self._models.set_description(name, description, reason=reason)
        return self.get_model(name)

    def set_model_tag(self, name: str, key: str, value: Any, *, reason: str = "") -> RegisteredModel:
        clean = clean_tags({key: value})
        self._models.set_tag(name, key, clean[key], reason=reason)
        return self.get_model(name)

    def delete_model_tag(self, name: str, key: str, *, reason: str = "") -> RegisteredModel:
        self._models.delete_tag(name, key, reason=reason)
        return self.get_model(name)

    # -- versions ---------------------------------------------------------------------------------------
    def register(
        self,
        name: str,
        model: Any = None,
        *,
        path: str | Path | None = None,
        flavor: str | None = None,
        description: str = "",
        metadata: VersionMetadata | None = None,
        reference: ReferenceData | None = None,
        trust: bool = False,
        reason: str = "",
    ) -> ModelVersion:
        """Register a new immutable version of ``name`` from a fitted model object or a saved model file.

        The format is detected unless ``flavor`` names it. The model is saved (or the file copied) into the
        artifact store, loaded back once to prove it works and to describe it, and recorded with its
        ``description`` (this version's Markdown, the top of its model card; the model's own description
        is set with ``update_model``), ``metadata`` (metrics, params, tags, data contract, reference
        profile, training record, datasets, seed) and the lineage captured now. ``path`` is read exactly
        once. Formats that can run code on load (``python``) need ``trust=True`` when registered from a file.

        ``reference`` (a CSV or Parquet path, a DataFrame or a pyarrow Table: the training data, or a
        sample of it) gives the version its reference profile, which drift monitoring needs: the rows are
        profiled with the model's predictions on them. The contract is inferred from them too, unless
        ``metadata.input_schema`` gives one; then every reference row must meet it. It replaces
        ``metadata.profile``, which holds a ready ``Profile.to_dict()`` instead.
        """
        validate_name(name)
        if (model is None) == (path is None):
            raise InvalidInput(
                "register needs exactly one of: a fitted model object, or path= to a saved model file"
            )
        from shipyard.contracts import Contract
        from shipyard.registry.reference import build_reference, read_reference
        from shipyard.registry.registration import store_model

        clean = (metadata if metadata is not None else VersionMetadata()).cleaned()
        if reference is not None and clean.profile is not None:
            raise InvalidInput("give the reference profile once: reference= data, or metadata.profile")
        table = read_reference(reference) if reference is not None else None
        built: list[Reference] = []

        def profile_reference(loaded: LoadedModel, info: ModelDescription) -> None:
            if table is not None:
                given = Contract.from_dict(clean.input_schema) if clean.input_schema is not None else None
                built.append(build_reference(table, loaded, info, given, owner=f"the new version of {name}"))

        stored = store_model(self.artifacts, model, path, flavor, trust=trust, inspect=profile_reference)
        if built:
            contract, profile = built[0].contract.to_dict(), built[0].profile.to_dict()
            clean = dataclasses.replace(clean, input_schema=contract, profile=profile)
        number = self._models.add_version(
            name, _new_version(stored, clean, description, self.actor), reason=reason
        )
        return self.get_version(name, number)

    def build_profile(
        self,
        ref: str | ModelRef,
        data: ReferenceData,
        *,
        replace: bool = False,
        trust: bool = False,
        reason: str = "",
    ) -> ModelVersion:
        """Give an existing version its reference profile, built from ``data`` (see ``register``).

        The rows must meet the version's data contract (a version without one is profiled on its model's
        features; its contract stays unset). A version that has a profile keeps it unless ``replace=True``.
        The model predicts on the rows, so a format that runs code on load needs ``trust=True``. Audited as
        ``version.profile.set``; the version's model, contract and metrics are untouched.
        """
        from shipyard.contracts import Contract
        from shipyard.registry.reference import build_reference, read_reference

        version = self.resolve(ref)
        if version.profile is not None and not replace:
            raise Conflict(
                f"{version.ref} already has a reference profile ({_profile_rows(version.profile)} rows); "
                "pass replace=True (CLI: --replace) to replace it"
            )
        table = read_reference(data)
        contract = Contract.from_dict(version.input_schema) if version.input_schema else None
        loaded = self.load_model(version.ref, trust=trust)
        built = build_reference(table, loaded, version.info, contract, owner=version.ref)
        self._models.set_version_profile(
            version.model, version.version, built.profile.to_dict(), replace=replace, reason=reason
        )
        return self.get_version(version.model, version.version)

    def get_version(self, name: str, version: int) -> ModelVersion:
        return self.resolve(ModelRef(model=validate_name(name), version=version))

    def resolve(self, ref: str | ModelRef) -> ModelVersion:
        """The version a reference points at: ``fraud/3``, ``fraud@production``, ``models:/fraud/3``,
        or ``fraud`` (the newest version)."""
        return self._models.resolve(ref if isinstance(ref, ModelRef) else ModelRef.parse(ref))

    def list_versions(self, name: str) -> list[ModelVersion]:
        return self._models.versions(name)

    def set_version_tag(self, ref: str, key: str, value: Any, *, reason: str = "") -> ModelVersion:
        """Tags are the one mutable part of a version (annotations such as ``validated=yes``); audited."""
        clean = clean_tags({key: value})
        target = self.resolve(ref)
        self._models.set_version_tag(target.model, target.version, key, clean[key], reason=reason)
        return self.get_version(target.model, target.version)

    def delete_version_tag(self, ref: str, key: str, *, reason: str = "") -> ModelVersion:
        target = self.resolve(ref)
        self._models.delete_version_tag(target.model, target.version, key, reason=reason)
        return self.get_version(target.model, target.version)

    # -- aliases ----------------------------------------------------------------------------------------
    def set_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        reason: str = "",
        action: str = "set",
        expect_current: int | object | None = ANY_VERSION,
    ) -> AliasChange:
        """Point ``name@alias`` at ``version`` (creating or moving the alias), atomically and audited.

        ``action`` is what the history and audit trail call the move ("set", or "promote" from a gate).
        With ``expect_current`` the move happens only if the alias still points there (None: unset), so a
        decision taken on the old holder cannot land on a newer one.
        """
        validate_name(name)
        validate_alias(alias)
        check_action(action)
        number = version_number(version)
        return self._aliases.move(
            name, alias, number, action=action, reason=reason, expect_current=expect_current
        )

    def delete_alias(self, name: str, alias: str, *, reason: str = "") -> AliasChange:
        validate_name(name)
        validate_name(alias, "alias")
        return self._aliases.move(name, alias, None, action="delete", reason=reason)

    def rollback(self, ref: str, *, to: int | None = None, reason: str = "") -> AliasChange:
        """Move ``name@alias`` back to the version it pointed at before its last move (or to ``to``).

        Repeated rollbacks keep walking back through the alias history, like an undo stack: after
        v1 → v2 → v3, two rollbacks leave the alias on v1.
        """
        parsed = ModelRef.parse(ref)
        if parsed.alias is None:
            raise InvalidInput(
                f"rollback needs an alias reference such as '{parsed.model}@production', got {ref!r}"
            )
        name, alias = parsed.model, parsed.alias
        explicit = version_number(to) if to is not None else None

        def choose(history: list[AliasChange]) -> int:
            return explicit if explicit is not None else rollback_target(name, alias, history)

        return self._aliases.roll_back(name, alias, choose, reason=reason)

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasChange]:
        """Every move of the model's aliases (or of one alias), oldest first."""
        return self._aliases.history(name, alias)

    # -- loading ----------------------------------------------------------------------------------------
    def load_model(self, ref: str | ModelRef, *, trust: bool = False) -> LoadedModel:
        """Load a version for prediction, verifying its artifact's hash first.

        Formats that can execute code on load need ``trust=True``; everything else ignores it.
        """
        from shipyard.flavors import get_flavor

        version = self.resolve(ref)
        chosen = get_flavor(version.flavor)
        if chosen.needs_trust and not trust:
            raise Unauthorized(
                f"{version.ref} is stored in the {chosen.name!r} format, which can execute arbitrary code "
                "when loaded; pass trust=True (CLI: --trust) if you trust whoever registered it"
            )
        with tempfile.TemporaryDirectory(prefix="shipyard-load-") as scratch:
            local = Path(scratch) / chosen.file_name
            self.artifacts.fetch(_artifact(version), local, owner=version.ref)
            return chosen.load(local, version.flavor_metadata, trust=trust)

    def verify(self, ref: str | ModelRef) -> ModelVersion:
        """Re-hash a version's stored artifact; raise IntegrityError if the bytes changed."""
        version = self.resolve(ref)
        self.artifacts.verify(_artifact(version), owner=version.ref)
        return version

    def export(self, ref: str | ModelRef, destination: str | Path) -> Path:
        """Write a verified copy of a version's model file to ``destination``."""
        version = self.resolve(ref)
        return self.artifacts.copy_out(_artifact(version), Path(destination), owner=version.ref)

    # -- audit ------------------------------------------------------------------------------------------
    def audit(
        self,
        *,
        model: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[AuditEvent]:
        """The newest ``limit`` audit events (oldest first), optionally for one model or action prefix."""
        if limit < 1:
            raise InvalidInput("limit must be at least 1")
        return self._audit_log.newest(model=model, action=action, since=since, limit=limit)


def _new_version(stored: StoredModel, metadata: VersionMetadata, description: str, actor: str) -> NewVersion:
    """The version row to write: the stored model, its cleaned metadata, and the lineage captured now (or
    where the model was made, by a remote client; the actor is always the one this registry knows)."""
    if metadata.lineage is not None:
        lineage = {**metadata.lineage, "registered_by": actor}
    else:
        lineage = lineage_capture.capture(
            actor=actor,
            code_dir=Path(metadata.code_dir) if metadata.code_dir is not None else None,
            datasets=metadata.datasets,
            seed=metadata.seed,
            extra_packages=stored.flavor_metadata.get("packages", ()),
        )
    return NewVersion(
        flavor=stored.flavor,
        flavor_metadata=stored.flavor_metadata,
        artifact_sha256=stored.artifact.sha256,
        artifact_size=stored.artifact.size,
        info=stored.info,
        input_schema=_plain(metadata.input_schema),
        profile=_plain(metadata.profile),
        training=_plain(metadata.training),
        metrics=dict(metadata.metrics),
        params=dict(metadata.params),
        tags=dict(metadata.tags),
        description=description,
        lineage=lineage,
    )


def _profile_rows(profile: Mapping[str, Any]) -> str:
    rows = profile.get("rows")
    return f"{rows:,}" if isinstance(rows, int) else "?"


def _plain(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return dict(value) if value is not None else None


def _artifact(version: ModelVersion) -> ArtifactInfo:
    return ArtifactInfo(version.artifact_sha256, version.artifact_size)
