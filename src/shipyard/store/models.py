"""Models and their versions in the metadata database: the registry's repository for them.

Every method is one transaction, and every change writes its audit event in that same transaction, so the
trail can never disagree with the state. Writes lock the model row first (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already holds the database write lock), so concurrent writers of
one model queue instead of racing. Methods take and return the plain records below, never ORM rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shipyard.errors import Conflict, NotFound, not_found
from shipyard.flavors.base import ModelDescription
from shipyard.refs import ModelRef
from shipyard.store.audit import record_audit
from shipyard.store.database import Database
from shipyard.store.schema import AliasRow, ModelRow, VersionRow
from shipyard.store.sequences import lock_or_create_named, next_version, select_named


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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RegisteredModel:
        """The record ``to_dict`` wrote (what the management API answers)."""
        return cls(
            name=data["name"],
            description=data["description"],
            tags=dict(data["tags"]),
            latest_version=data["latest_version"],
            aliases={alias: int(version) for alias, version in data["aliases"].items()},
            created_at=datetime.fromisoformat(data["created_at"]),
            created_by=data["created_by"],
            updated_at=datetime.fromisoformat(data["updated_at"]),
        )


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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelVersion:
        """The record ``to_dict`` wrote (what the management API answers)."""
        return cls(
            model=data["model"],
            version=int(data["version"]),
            flavor=data["flavor"],
            flavor_metadata=dict(data["flavor_metadata"]),
            artifact_sha256=data["artifact"]["sha256"],
            artifact_size=int(data["artifact"]["size"]),
            info=ModelDescription.from_dict(data["info"]),
            input_schema=data["input_schema"],
            metrics=dict(data["metrics"]),
            params=dict(data["params"]),
            tags=dict(data["tags"]),
            description=data["description"],
            lineage=dict(data["lineage"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            created_by=data["created_by"],
            aliases=tuple(data["aliases"]),
            profile=data["profile"],
            training=data["training"],
        )


@dataclass(frozen=True)
class NewVersion:
    """What a registration stores: everything about a version except its number, which the database
    hands out under the model's lock."""

    flavor: str
    flavor_metadata: dict[str, Any]
    artifact_sha256: str
    artifact_size: int
    info: ModelDescription
    input_schema: dict[str, Any] | None
    profile: dict[str, Any] | None
    training: dict[str, Any] | None
    metrics: dict[str, float]
    params: dict[str, Any]
    tags: dict[str, str]
    description: str
    lineage: dict[str, Any]


class ModelRepository:
    """Models and versions of one metadata database; changes are stamped with ``actor``."""

    def __init__(self, db: Database, actor: str) -> None:
        self.db = db
        self.actor = actor

    # -- models -----------------------------------------------------------------------------------------
    def get(self, name: str) -> RegisteredModel:
        with self.db.reading() as session:
            return _model_entity(session, model_row(session, name))

    def all(self) -> list[RegisteredModel]:
        with self.db.reading() as session:
            rows = session.execute(select(ModelRow).order_by(ModelRow.name)).scalars().all()
            return [_model_entity(session, row) for row in rows]

    def create(self, name: str, description: str, tags: dict[str, str], *, reason: str) -> bool:
        """Create the model if it does not exist yet; return whether this call created it."""
        return self.db.write(
            lambda session: self._lock_or_create(session, name, description, tags, reason)[1]
        )

    def set_description(self, name: str, description: str, *, reason: str) -> None:
        def work(session: Session) -> None:
            row = lock_model(session, name)
            before = row.description
            row.description = description
            row.updated_at = _now()
            after = {"description": description}
            self._audit(session, "model.update", name, name, {"description": before}, after, reason)

        self.db.write(work)

    def set_tag(self, name: str, key: str, value: str, *, reason: str) -> None:
        def work(session: Session) -> None:
            row = lock_model(session, name)
            before = row.tags.get(key)
            row.tags = {**row.tags, key: value}
            row.updated_at = _now()
            self._audit(session, "model.tag.set", name, name, {key: before}, {key: value}, reason)

        self.db.write(work)

    def delete_tag(self, name: str, key: str, *, reason: str) -> None:
        def work(session: Session) -> None:
            row = lock_model(session, name)
            if key not in row.tags:
                raise not_found("tag", key, within=f"model {name!r}", candidates=row.tags)
            before = row.tags[key]
            row.tags = {k: v for k, v in row.tags.items() if k != key}
            row.updated_at = _now()
            self._audit(session, "model.tag.delete", name, name, {key: before}, None, reason)

        self.db.write(work)

    # -- versions ---------------------------------------------------------------------------------------
    def add_version(self, name: str, new: NewVersion, *, reason: str) -> int:
        """Store the next version of ``name`` (creating the model on first use); return its number."""

        def work(session: Session) -> int:
            model, _ = self._lock_or_create(session, name, "", {}, reason)
            number = next_version(session, ModelRow, model.id, updated_at=_now())
            session.add(
                VersionRow(
                    model_id=model.id,
                    version=number,
                    flavor=new.flavor,
                    flavor_metadata=new.flavor_metadata,
                    artifact_sha256=new.artifact_sha256,
                    artifact_size=new.artifact_size,
                    model_info=new.info.to_dict(),
                    input_schema=new.input_schema,
                    profile=new.profile,
                    training=new.training,
                    metrics=new.metrics,
                    params=new.params,
                    tags=new.tags,
                    description=new.description,
                    lineage=new.lineage,
                    created_at=_now(),
                    created_by=self.actor,
                )
            )
            after = {"flavor": new.flavor, "sha256": new.artifact_sha256, "size": new.artifact_size}
            self._audit(session, "version.register", name, f"{name}/{number}", None, after, reason)
            return int(number)

        return self.db.write(work)

    def resolve(self, ref: ModelRef) -> ModelVersion:
        """The version a parsed reference points at (by number, by alias, or the newest)."""
        with self.db.reading() as session:
            query = select(VersionRow).join(ModelRow, VersionRow.model_id == ModelRow.id)
            query = query.where(ModelRow.name == ref.model)
            if ref.version is not None:
                query = query.where(VersionRow.version == ref.version)
            elif ref.alias is not None:
                query = query.join(
                    AliasRow, (AliasRow.model_id == ModelRow.id) & (AliasRow.version == VersionRow.version)
                ).where(AliasRow.name == ref.alias)
            else:
                query = query.order_by(VersionRow.version.desc()).limit(1)
            row = session.execute(query).scalars().first()
            if row is None:
                raise explain_miss(session, ref)
            aliases = session.execute(
                select(AliasRow.name).where(
                    AliasRow.model_id == row.model_id, AliasRow.version == row.version
                )
            ).scalars()
            return _version_entity(row, ref.model, tuple(sorted(aliases)))

    def versions(self, name: str) -> list[ModelVersion]:
        with self.db.reading() as session:
            model = model_row(session, name)
            rows = session.execute(
                select(VersionRow).where(VersionRow.model_id == model.id).order_by(VersionRow.version)
            ).scalars()
            aliases: dict[int, list[str]] = {}
            for alias in session.execute(select(AliasRow).where(AliasRow.model_id == model.id)).scalars():
                aliases.setdefault(alias.version, []).append(alias.name)
            return [_version_entity(row, name, tuple(sorted(aliases.get(row.version, ())))) for row in rows]

    def set_version_tag(self, name: str, version: int, key: str, value: str, *, reason: str) -> None:
        def work(session: Session) -> None:
            row = version_row(session, name, version)
            before = row.tags.get(key)
            row.tags = {**row.tags, key: value}
            self._audit(
                session, "version.tag.set", name, f"{name}/{version}", {key: before}, {key: value}, reason
            )

        self.db.write(work)

    def set_version_profile(
        self, name: str, version: int, profile: dict[str, Any], *, replace: bool, reason: str
    ) -> None:
        """Give a version its reference profile (checked under the row's lock: two callers cannot both
        add one); the audit event records the row counts and columns, not the sketches."""

        def work(session: Session) -> None:
            row = version_row(session, name, version, model=lock_model(session, name))
            target = f"{name}/{version}"
            if row.profile is not None and not replace:
                raise Conflict(
                    f"{target} already has a reference profile; "
                    "pass replace=True (CLI: --replace) to replace it"
                )
            before = _profile_summary(row.profile)
            row.profile = profile
            self._audit(
                session, "version.profile.set", name, target, before, _profile_summary(profile), reason
            )

        self.db.write(work)

    def delete_version_tag(self, name: str, version: int, key: str, *, reason: str) -> None:
        def work(session: Session) -> None:
            row = version_row(session, name, version)
            target = f"{name}/{version}"
            if key not in row.tags:
                raise not_found("tag", key, within=target, candidates=row.tags)
            before = row.tags[key]
            row.tags = {k: v for k, v in row.tags.items() if k != key}
            self._audit(session, "version.tag.delete", name, target, {key: before}, None, reason)

        self.db.write(work)

    # -- internals --------------------------------------------------------------------------------------
    def _lock_or_create(
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
            after = {"description": description, "tags": tags}
            self._audit(session, "model.create", name, name, None, after, reason)
        return row, created

    def _audit(
        self,
        session: Session,
        action: str,
        model: str,
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


# -- lookups shared with the alias repository (inside a caller's transaction) --------------------------
def model_row(session: Session, name: str) -> ModelRow:
    """The model's row, or NotFound naming the models that do exist."""
    row = select_named(session, ModelRow, name)
    if row is None:
        raise unknown_model(session, name)
    return row


def lock_model(session: Session, name: str) -> ModelRow:
    """The model's row under its write lock, or NotFound."""
    row = select_named(session, ModelRow, name, lock=True)
    if row is None:
        raise unknown_model(session, name)
    return row


def unknown_model(session: Session, name: str) -> NotFound:
    names = session.execute(select(ModelRow.name)).scalars().all()
    return not_found("model", name, candidates=names, list_command="shipyard models list")


def version_row(session: Session, name: str, version: int, *, model: ModelRow | None = None) -> VersionRow:
    """One version's row, or NotFound saying which versions exist."""
    model = model or model_row(session, name)
    row = session.execute(
        select(VersionRow).where(VersionRow.model_id == model.id, VersionRow.version == version)
    ).scalar_one_or_none()
    if row is None:
        raise missing_version(name, version, model.last_version)
    return row


def alias_names(session: Session, model_id: int) -> Sequence[str]:
    return session.execute(select(AliasRow.name).where(AliasRow.model_id == model_id)).scalars().all()


def explain_miss(session: Session, ref: ModelRef) -> NotFound:
    """Why a reference resolves to nothing: no such model, alias or version, or no versions yet."""
    model = select_named(session, ModelRow, ref.model)
    if model is None:
        return unknown_model(session, ref.model)
    if ref.alias is not None:
        candidates = alias_names(session, model.id)
        return not_found("alias", ref.alias, within=f"model {ref.model!r}", candidates=candidates)
    if ref.version is not None:
        return missing_version(ref.model, ref.version, model.last_version)
    return NotFound(f"model {ref.model!r} has no versions yet; register one with 'shipyard register'")


def missing_version(name: str, version: int, last: int) -> NotFound:
    known = f"versions 1–{last}" if last > 1 else ("only version 1" if last == 1 else "no versions yet")
    return NotFound(f"model {name!r} has no version {version} ({known})")


def _profile_summary(profile: dict[str, Any] | None) -> dict[str, Any] | None:
    if profile is None:
        return None
    return {"rows": profile.get("rows"), "columns": list((profile.get("layout") or {}).get("columns") or {})}


def _now() -> datetime:
    return datetime.now(UTC)


def _model_entity(session: Session, row: ModelRow) -> RegisteredModel:
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
