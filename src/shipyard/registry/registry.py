"""The model registry: named models, immutable numbered versions, aliases, rollback and an audit trail.

This is the Python API the CLI and the server call. Every change happens in one database transaction that
also writes its audit event, so the trail can never disagree with the state. Model bytes go to the
content-addressed artifact store before the version row is committed, so a committed version always has
its artifact.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shipyard.config import Settings, load_settings
from shipyard.datasets import DatasetCatalog
from shipyard.errors import Conflict, InvalidInput, NotFound, Unauthorized, not_found
from shipyard.flavors import flavor_for_file, flavor_for_object, get_flavor
from shipyard.flavors.base import LoadedModel, ModelDescription
from shipyard.refs import ModelRef, validate_alias, validate_name
from shipyard.registry import lineage as lineage_capture
from shipyard.registry.entities import AliasChange, AuditEvent, ModelVersion, RegisteredModel
from shipyard.store.artifacts import ArtifactInfo, ArtifactStore
from shipyard.store.audit import record_audit
from shipyard.store.database import Database
from shipyard.store.schema import AliasHistoryRow, AliasRow, AuditRow, ModelRow, VersionRow
from shipyard.store.sequences import lock_or_create_named, next_version, select_named

_MAX_TAG_KEY = 255
#: Placeholder for "do not check the alias's current version".
_ANY: object = object()
#: What a direct alias move may be called in the history; rollback and delete have their own methods.
_ALIAS_ACTIONS = frozenset({"set", "promote", "promote.forced"})
_MAX_TAG_VALUE = 5000


class Registry:
    """The registry of one workspace. ``Registry()`` opens the current workspace (creating the database
    and applying migrations as needed); pass ``home=`` or setting overrides to open another."""

    def __init__(self, settings: Settings | None = None, *, home: str | Path | None = None, **overrides: Any):
        self.settings = settings if settings is not None else load_settings(home, **overrides)
        self.db = Database(self.settings.registry_url, busy_timeout=self.settings.busy_timeout)
        self.artifacts = ArtifactStore(self.settings.artifacts_url)
        self.actor = self.settings.actor
        self.datasets = DatasetCatalog(self.db, self.artifacts, self.actor)

    def close(self) -> None:
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
        clean_tags = _clean_tags(tags)

        def work(session: Session) -> None:
            _, created = self._lock_or_create_model(session, name, description, clean_tags, reason)
            if not created:
                raise Conflict(f"model {name!r} already exists; register a new version of it instead")

        self.db.write(work)
        return self.get_model(name)

    def get_model(self, name: str) -> RegisteredModel:
        with self.db.reading() as session:
            row = self._model_row(session, name)
            return self._model_entity(session, row)

    def list_models(self) -> list[RegisteredModel]:
        with self.db.reading() as session:
            rows = session.execute(select(ModelRow).order_by(ModelRow.name)).scalars().all()
            return [self._model_entity(session, row) for row in rows]

    def update_model(self, name: str, *, description: str, reason: str = "") -> RegisteredModel:
        """Replace a model's description (Markdown)."""

        def work(session: Session) -> None:
            row = self._lock_model(session, name)
            before = row.description
            row.description = description
            row.updated_at = _now()
            self._audit(
                session,
                "model.update",
                name,
                name,
                {"description": before},
                {"description": description},
                reason,
            )

        self.db.write(work)
        return self.get_model(name)

    def set_model_tag(self, name: str, key: str, value: Any, *, reason: str = "") -> RegisteredModel:
        clean = _clean_tags({key: value})

        def work(session: Session) -> None:
            row = self._lock_model(session, name)
            before = row.tags.get(key)
            row.tags = {**row.tags, **clean}
            row.updated_at = _now()
            self._audit(session, "model.tag.set", name, name, {key: before}, clean, reason)

        self.db.write(work)
        return self.get_model(name)

    def delete_model_tag(self, name: str, key: str, *, reason: str = "") -> RegisteredModel:
        def work(session: Session) -> None:
            row = self._lock_model(session, name)
            if key not in row.tags:
                raise not_found("tag", key, within=f"model {name!r}", candidates=row.tags)
            before = row.tags[key]
            row.tags = {k: v for k, v in row.tags.items() if k != key}
            row.updated_at = _now()
            self._audit(session, "model.tag.delete", name, name, {key: before}, None, reason)

        self.db.write(work)
        return self.get_model(name)

    # -- versions ---------------------------------------------------------------------------------------
    def register(
        self,
        name: str,
        model: Any = None,
        *,
        path: str | Path | None = None,
        flavor: str | None = None,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        description: str = "",
        input_schema: Mapping[str, Any] | None = None,
        profile: Mapping[str, Any] | None = None,
        training: Mapping[str, Any] | None = None,
        datasets: Mapping[str, str] | None = None,
        seed: int | None = None,
        code_dir: str | Path | None = None,
        trust: bool = False,
        reason: str = "",
    ) -> ModelVersion:
        """Register a new immutable version of ``name`` from a fitted model object or a saved model file.

        The format is detected unless ``flavor`` names it. The model is saved (or the file copied) into the
        artifact store, loaded back once to prove it works and to describe it, and recorded with its
        metrics, params, tags, model card text, input schema (the data contract), reference profile, training
        record and lineage. ``path`` is read exactly once.
        Formats that can run code on load (``python``) need ``trust=True`` when registered from a file.
        """
        validate_name(name)
        if (model is None) == (path is None):
            raise InvalidInput(
                "register needs exactly one of: a fitted model object, or path= to a saved model file"
            )
        clean_metrics = _clean_metrics(metrics)
        clean_params = _clean_params(params)
        clean_tags = _clean_tags(tags)
        schema = dict(input_schema) if input_schema is not None else None
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise InvalidInput(f"seed must be an integer, got {type(seed).__name__}")

        with tempfile.TemporaryDirectory(prefix="shipyard-register-") as scratch:
            workdir = Path(scratch)
            if path is not None:
                chosen, saved_path, flavor_metadata = self._take_file(Path(path), flavor, workdir, trust)
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
            artifact = self.artifacts.put_file(saved_path)

        recorded_lineage = lineage_capture.capture(
            actor=self.actor,
            code_dir=Path(code_dir) if code_dir is not None else None,
            datasets=datasets,
            seed=seed,
            extra_packages=flavor_metadata.get("packages", ()),
        )

        def work(session: Session) -> int:
            model_row, _ = self._lock_or_create_model(session, name, "", {}, reason)
            number = next_version(session, ModelRow, model_row.id, updated_at=_now())
            row = VersionRow(
                model_id=model_row.id,
                version=number,
                flavor=chosen.name,
                flavor_metadata=flavor_metadata,
                artifact_sha256=artifact.sha256,
                artifact_size=artifact.size,
                model_info=info.to_dict(),
                input_schema=schema,
                profile=dict(profile) if profile is not None else None,
                training=dict(training) if training is not None else None,
                metrics=clean_metrics,
                params=clean_params,
                tags=clean_tags,
                description=description,
                lineage=recorded_lineage,
                created_at=_now(),
                created_by=self.actor,
            )
            session.add(row)
            after = {"flavor": chosen.name, "sha256": artifact.sha256, "size": artifact.size}
            self._audit(session, "version.register", name, f"{name}/{number}", None, after, reason)
            return int(number)

        number = self.db.write(work)
        return self.get_version(name, number)

    def _take_file(
        self, source: Path, flavor: str | None, workdir: Path, trust: bool
    ) -> tuple[Any, Path, dict[str, Any]]:
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

    def get_version(self, name: str, version: int) -> ModelVersion:
        return self.resolve(ModelRef(model=validate_name(name), version=version))

    def resolve(self, ref: str | ModelRef) -> ModelVersion:
        """The version a reference points at: ``fraud/3``, ``fraud@production``, ``models:/fraud/3``,
        or ``fraud`` (the newest version)."""
        parsed = ref if isinstance(ref, ModelRef) else ModelRef.parse(ref)
        with self.db.reading() as session:
            query = select(VersionRow, ModelRow.name).join(ModelRow, VersionRow.model_id == ModelRow.id)
            query = query.where(ModelRow.name == parsed.model)
            if parsed.version is not None:
                query = query.where(VersionRow.version == parsed.version)
            elif parsed.alias is not None:
                query = query.join(
                    AliasRow, (AliasRow.model_id == ModelRow.id) & (AliasRow.version == VersionRow.version)
                ).where(AliasRow.name == parsed.alias)
            else:
                query = query.order_by(VersionRow.version.desc()).limit(1)
            found = session.execute(query).first()
            if found is None:
                raise self._explain_miss(session, parsed)
            row = found[0]
            aliases = session.execute(
                select(AliasRow.name).where(
                    AliasRow.model_id == row.model_id, AliasRow.version == row.version
                )
            ).scalars()
            return _version_entity(row, parsed.model, tuple(sorted(aliases)))

    def list_versions(self, name: str) -> list[ModelVersion]:
        with self.db.reading() as session:
            model_row = self._model_row(session, name)
            rows = session.execute(
                select(VersionRow).where(VersionRow.model_id == model_row.id).order_by(VersionRow.version)
            ).scalars()
            aliases: dict[int, list[str]] = {}
            for alias in session.execute(select(AliasRow).where(AliasRow.model_id == model_row.id)).scalars():
                aliases.setdefault(alias.version, []).append(alias.name)
            return [_version_entity(row, name, tuple(sorted(aliases.get(row.version, ())))) for row in rows]

    def set_version_tag(self, ref: str, key: str, value: Any, *, reason: str = "") -> ModelVersion:
        """Tags are the one mutable part of a version (annotations such as ``validated=yes``); audited."""
        clean = _clean_tags({key: value})
        target = self.resolve(ref)

        def work(session: Session) -> None:
            row = self._version_row(session, target.model, target.version)
            before = row.tags.get(key)
            row.tags = {**row.tags, **clean}
            self._audit(session, "version.tag.set", target.model, target.ref, {key: before}, clean, reason)

        self.db.write(work)
        return self.get_version(target.model, target.version)

    def delete_version_tag(self, ref: str, key: str, *, reason: str = "") -> ModelVersion:
        target = self.resolve(ref)

        def work(session: Session) -> None:
            row = self._version_row(session, target.model, target.version)
            if key not in row.tags:
                raise not_found("tag", key, within=target.ref, candidates=row.tags)
            before = row.tags[key]
            row.tags = {k: v for k, v in row.tags.items() if k != key}
            self._audit(session, "version.tag.delete", target.model, target.ref, {key: before}, None, reason)

        self.db.write(work)
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
        expect_current: int | object | None = _ANY,
    ) -> AliasChange:
        """Point ``name@alias`` at ``version`` (creating or moving the alias), atomically and audited.

        ``action`` is what the history and audit trail call the move ("set", or "promote" from a gate).
        With ``expect_current`` the move happens only if the alias still points there (None: unset), so a
        decision taken on the old holder cannot land on a newer one.
        """
        validate_name(name)
        validate_alias(alias)
        if action not in _ALIAS_ACTIONS:
            raise InvalidInput(f"unknown alias action {action!r}; one of {', '.join(sorted(_ALIAS_ACTIONS))}")
        number = _version_number(version)
        return self.db.write(
            lambda session: self._move_alias(session, name, alias, number, action, reason, expect_current)
        )

    def delete_alias(self, name: str, alias: str, *, reason: str = "") -> AliasChange:
        validate_name(name)
        validate_name(alias, "alias")
        return self.db.write(lambda session: self._move_alias(session, name, alias, None, "delete", reason))

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
        alias = parsed.alias
        explicit = _version_number(to) if to is not None else None

        def work(session: Session) -> AliasChange:
            model_row = self._lock_model(session, parsed.model)
            history = self._history_rows(session, model_row.id, alias)
            if not history:
                raise self._explain_miss(session, parsed)
            if explicit is not None:
                target = explicit
            else:
                candidate = _undo_target(_undo_stack(history))
                if candidate is None:
                    raise Conflict(
                        f"{parsed.model}@{alias} has no earlier version to roll back to "
                        f"(see 'shipyard alias history {parsed.model}@{alias}')"
                    )
                target = candidate
            return self._move_alias(session, parsed.model, alias, target, "rollback", reason)

        return self.db.write(work)

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasChange]:
        """Every move of the model's aliases (or of one alias), oldest first."""
        with self.db.reading() as session:
            model_row = self._model_row(session, name)
            query = select(AliasHistoryRow).where(AliasHistoryRow.model_id == model_row.id)
            if alias is not None:
                query = query.where(AliasHistoryRow.alias == alias)
            rows = session.execute(query.order_by(AliasHistoryRow.id)).scalars()
            return [_alias_change(row, name) for row in rows]

    def _move_alias(
        self,
        session: Session,
        name: str,
        alias: str,
        version: int | None,
        action: str,
        reason: str,
        expect_current: int | object | None = _ANY,
    ) -> AliasChange:
        model_row = self._lock_model(session, name)
        if version is not None:
            self._version_row(session, name, version, model_row=model_row)
        current = session.execute(
            select(AliasRow).where(AliasRow.model_id == model_row.id, AliasRow.name == alias)
        ).scalar_one_or_none()
        previous = current.version if current is not None else None
        if expect_current is not _ANY and previous != expect_current:
            now_at = f"v{previous}" if previous else "nothing"
            expected = f"v{expect_current}" if expect_current else "unset"
            raise Conflict(
                f"{name}@{alias} moved to {now_at} while this change was being decided "
                f"(expected {expected}); decide again"
            )
        now = _now()
        if version is None:
            if current is None:
                existing = session.execute(
                    select(AliasRow.name).where(AliasRow.model_id == model_row.id)
                ).scalars()
                raise not_found("alias", alias, within=f"model {name!r}", candidates=existing)
            session.delete(current)
        elif previous == version:
            return AliasChange(name, alias, "unchanged", previous, version, now, self.actor, reason)
        elif current is None:
            session.add(
                AliasRow(
                    model_id=model_row.id, name=alias, version=version, updated_at=now, updated_by=self.actor
                )
            )
        else:
            current.version = version
            current.updated_at = now
            current.updated_by = self.actor
        history = AliasHistoryRow(
            model_id=model_row.id,
            alias=alias,
            action=action,
            previous_version=previous,
            version=version,
            at=now,
            actor=self.actor,
            reason=reason,
        )
        session.add(history)
        self._audit(
            session,
            f"alias.{action}",
            name,
            f"{name}@{alias}",
            {"version": previous} if previous is not None else None,
            {"version": version} if version is not None else None,
            reason,
        )
        return AliasChange(name, alias, action, previous, version, now, self.actor, reason)

    # -- loading ----------------------------------------------------------------------------------------
    def load_model(self, ref: str | ModelRef, *, trust: bool = False) -> LoadedModel:
        """Load a version for prediction, verifying its artifact's hash first.

        Formats that can execute code on load need ``trust=True``; everything else ignores it.
        """
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
        query = select(AuditRow)
        if model is not None:
            query = query.where(AuditRow.model == model)
        if action is not None:
            query = query.where(AuditRow.action.startswith(action, autoescape=True))
        if since is not None:
            query = query.where(AuditRow.at >= since)
        with self.db.reading() as session:
            rows = session.execute(query.order_by(AuditRow.id.desc()).limit(limit)).scalars().all()
            return [_audit_entity(row) for row in reversed(rows)]

    # -- internals --------------------------------------------------------------------------------------
    def _audit(
        self,
        session: Session,
        action: str,
        model: str | None,
        target: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        reason: str,
    ) -> None:
        record_audit(
            session,
            actor=self.actor,
            action=action,
            model=model,
            target=target,
            before=before,
            after=after,
            reason=reason,
        )

    def _lock_or_create_model(
        self, session: Session, name: str, description: str, tags: dict[str, str], reason: str
    ) -> tuple[ModelRow, bool]:
        """Fetch the model row under its write lock, creating it first if needed (race-free)."""
        now = _now()
        values = {
            "description": description,
            "tags": tags,
            "created_at": now,
            "created_by": self.actor,
            "updated_at": now,
        }
        row, created = lock_or_create_named(session, ModelRow, name, values)
        if created:
            self._audit(
                session, "model.create", name, name, None, {"description": description, "tags": tags}, reason
            )
        return row, created

    def _select_model(self, session: Session, name: str, *, lock: bool = False) -> ModelRow | None:
        return select_named(session, ModelRow, name, lock=lock)

    def _model_row(self, session: Session, name: str) -> ModelRow:
        row = self._select_model(session, name)
        if row is None:
            raise self._unknown_model(session, name)
        return row

    def _lock_model(self, session: Session, name: str) -> ModelRow:
        row = self._select_model(session, name, lock=True)
        if row is None:
            raise self._unknown_model(session, name)
        return row

    def _unknown_model(self, session: Session, name: str) -> NotFound:
        names = session.execute(select(ModelRow.name)).scalars().all()
        return not_found("model", name, candidates=names, list_command="shipyard models list")

    def _version_row(
        self, session: Session, name: str, version: int, *, model_row: ModelRow | None = None
    ) -> VersionRow:
        model_row = model_row or self._model_row(session, name)
        row = session.execute(
            select(VersionRow).where(VersionRow.model_id == model_row.id, VersionRow.version == version)
        ).scalar_one_or_none()
        if row is None:
            raise _missing_version(name, version, model_row.last_version)
        return row

    def _history_rows(self, session: Session, model_id: int, alias: str) -> Sequence[AliasHistoryRow]:
        return (
            session.execute(
                select(AliasHistoryRow)
                .where(AliasHistoryRow.model_id == model_id, AliasHistoryRow.alias == alias)
                .order_by(AliasHistoryRow.id)
            )
            .scalars()
            .all()
        )

    def _explain_miss(self, session: Session, ref: ModelRef) -> NotFound:
        model_row = self._select_model(session, ref.model)
        if model_row is None:
            return self._unknown_model(session, ref.model)
        if ref.alias is not None:
            aliases = (
                session.execute(select(AliasRow.name).where(AliasRow.model_id == model_row.id))
                .scalars()
                .all()
            )
            return not_found("alias", ref.alias, within=f"model {ref.model!r}", candidates=aliases)
        if ref.version is not None:
            return _missing_version(ref.model, ref.version, model_row.last_version)
        return NotFound(f"model {ref.model!r} has no versions yet; register one with 'shipyard register'")

    def _model_entity(self, session: Session, row: ModelRow) -> RegisteredModel:
        aliases = session.execute(
            select(AliasRow.name, AliasRow.version).where(AliasRow.model_id == row.id)
        ).all()
        latest = session.execute(
            select(func.max(VersionRow.version)).where(VersionRow.model_id == row.id)
        ).scalar()
        return RegisteredModel(
            name=row.name,
            description=row.description,
            tags=dict(row.tags),
            latest_version=latest,
            aliases={name: version for name, version in sorted(aliases)},
            created_at=row.created_at,
            created_by=row.created_by,
            updated_at=row.updated_at,
        )


# -- pure helpers --------------------------------------------------------------------------------------
def _now() -> datetime:
    return datetime.now(UTC)


def _type_name(obj: object) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


def _version_number(version: object) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        if isinstance(version, str) and version.isdigit() and int(version) >= 1:
            return int(version)
        raise InvalidInput(f"version must be a whole number from 1, got {version!r}")
    return version


def _missing_version(name: str, version: int, last: int) -> NotFound:
    known = f"versions 1–{last}" if last > 1 else ("only version 1" if last == 1 else "no versions yet")
    return NotFound(f"model {name!r} has no version {version} ({known})")


def _undo_stack(history: Iterable[AliasHistoryRow]) -> list[int | None]:
    """Replay alias moves as an undo stack: sets and deletes push, a rollback pops back to its target."""
    stack: list[int | None] = []
    for event in history:
        if event.action == "rollback":
            below = _below_top(stack)
            if below and below[-1] == event.version:
                stack = below
                continue
        stack.append(event.version)
    return stack


def _below_top(stack: list[int | None]) -> list[int | None]:
    """The stack without its top and without the deletions directly beneath it."""
    below = stack[:-1]
    while below and below[-1] is None:
        below.pop()
    return below


def _undo_target(stack: list[int | None]) -> int | None:
    if stack and stack[-1] is None:  # the alias is deleted now: rolling back restores what it held
        below = _below_top([*stack, None])
        return below[-1] if below else None
    below = _below_top(stack)
    return below[-1] if below else None


def _clean_metrics(metrics: Mapping[str, Any] | None) -> dict[str, float]:
    clean: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        _check_key(key, "metric")
        numeric = isinstance(value, int | float) or hasattr(value, "__float__")
        if isinstance(value, bool) or not numeric:
            raise InvalidInput(f"metric {key!r} must be a number, got {type(value).__name__}")
        number = float(value)
        if not math.isfinite(number):
            raise InvalidInput(f"metric {key!r} is {number}; metrics must be finite numbers")
        clean[key] = number
    return clean


def _clean_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Parameters as JSON values; anything else (classes, NaN, arrays) is stored as its string form."""
    clean: dict[str, Any] = {}
    for key, value in (params or {}).items():
        _check_key(key, "param")
        plain = value is None or isinstance(value, bool | int | str)
        if plain or (isinstance(value, float) and math.isfinite(value)):
            clean[key] = value
        else:
            clean[key] = str(value)
    return clean


def _clean_tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    clean: dict[str, str] = {}
    for key, value in (tags or {}).items():
        _check_key(key, "tag")
        text = str(value)
        if len(text) > _MAX_TAG_VALUE:
            raise InvalidInput(f"tag {key!r} is {len(text)} characters long; the limit is {_MAX_TAG_VALUE}")
        clean[key] = text
    return clean


def _check_key(key: object, kind: str) -> None:
    if not isinstance(key, str) or not key or len(key) > _MAX_TAG_KEY:
        raise InvalidInput(f"{kind} names must be non-empty strings of at most {_MAX_TAG_KEY} characters")


def _artifact(version: ModelVersion) -> ArtifactInfo:
    return ArtifactInfo(version.artifact_sha256, version.artifact_size)


def _version_entity(row: VersionRow, name: str, aliases: tuple[str, ...]) -> ModelVersion:
    return ModelVersion(
        model=name,
        version=row.version,
        flavor=row.flavor,
        flavor_metadata=dict(row.flavor_metadata),
        artifact_sha256=row.artifact_sha256,
        artifact_size=row.artifact_size,
        info=ModelDescription.from_dict(row.model_info),
        input_schema=row.input_schema,
        metrics=dict(row.metrics),
        params=dict(row.params),
        tags=dict(row.tags),
        description=row.description,
        lineage=dict(row.lineage),
        created_at=row.created_at,
        created_by=row.created_by,
        aliases=aliases,
        profile=row.profile,
        training=row.training,
    )


def _alias_change(row: AliasHistoryRow, name: str) -> AliasChange:
    return AliasChange(
        name, row.alias, row.action, row.previous_version, row.version, row.at, row.actor, row.reason
    )


def _audit_entity(row: AuditRow) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        model=row.model,
        target=row.target,
        before=row.before,
        after=row.after,
        reason=row.reason,
    )
