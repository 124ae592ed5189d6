"""``shipyard doctor``: is this workspace able to serve what its aliases point at, and if not, what to fix.

It looks, in order, at the metadata database (reachable, schema at this shipyard's revision: read, never
migrated), the artifact store (reachable and writable: a probe object written and deleted), the prediction
log root (reachable), and then every alias target of every model: its artifact present and hashing to what
was recorded, and, unless told not to, its model loaded in this process the way a server loads it (the
format's loader, then a prediction on the version's own hold-out rows). The checks that need the database or
the artifact store are skipped, and say so, when those are not usable: they would only repeat the cause.

Each finding is a ``Check``: what was looked at, what was found, and for a problem what to do. Nothing here
prints; the CLI formats the ``HealthReport``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from shipyard.config import Settings
from shipyard.contracts import Contract
from shipyard.errors import IntegrityError, NotFound, ShipyardError, Unauthorized, Unavailable
from shipyard.flavors.base import LoadedModel
from shipyard.registry.entities import ModelVersion
from shipyard.registry.registry import Registry
from shipyard.registry.samples import sample_rows
from shipyard.store.schema_state import display_url, read_schema_state
from shipyard.store.storage_probe import probe_writable, root_exists

Status = Literal["ok", "problem", "skipped"]

DATABASE, ARTIFACTS, LOG, MODELS = "metadata database", "artifact store", "prediction log", "models"


@dataclass(frozen=True)
class DoctorOptions:
    """What to examine: every model or only ``models``, alias targets or ``all_versions``, loaded or not."""

    models: Sequence[str] = ()
    #: Load each model as a server would (``False``: check its artifact's presence and hash only).
    load: bool = True
    #: Load formats that run code when loaded (pickles), as ``shipyard serve --trust`` does.
    trust: bool = False
    #: Check every version, not only the ones an alias points at.
    all_versions: bool = False


@dataclass(frozen=True)
class Check:
    """One finding: ``subject`` (what was examined), its ``status``, what was found and what to do."""

    subject: str
    status: Status
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "status": self.status, "detail": self.detail, "fix": self.fix}


@dataclass(frozen=True)
class HealthReport:
    """Every check run on one workspace, in the order they ran."""

    home: str
    #: The models were loaded (not only their artifacts verified).
    loaded: bool = True
    checks: list[Check] = field(default_factory=list)

    @property
    def problems(self) -> list[Check]:
        return [check for check in self.checks if check.status == "problem"]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def versions(self) -> list[Check]:
        """The checks of model versions (the rest are the database and the two storage roots)."""
        return [check for check in self.checks if check.subject not in {DATABASE, ARTIFACTS, LOG, MODELS}]

    def to_dict(self) -> dict[str, Any]:
        return {
            "workspace": self.home,
            "ok": self.ok,
            "loaded": self.loaded,
            "problems": len(self.problems),
            "checks": [check.to_dict() for check in self.checks],
        }


def examine_workspace(settings: Settings, options: DoctorOptions | None = None) -> HealthReport:
    """Run every check on the workspace of ``settings``; a problem is reported, never raised.

    Raises only for what the caller asked wrongly: ``NotFound`` for a model in ``options.models`` that the
    registry does not have.
    """
    options = options or DoctorOptions()
    report = HealthReport(str(settings.home), loaded=options.load)
    database = check_database(settings.registry_url)
    artifacts = check_artifact_store(settings.artifacts_url)
    report.checks.extend([database, artifacts, check_prediction_log(settings.log_url)])
    blocked = [check.subject for check in (database, artifacts) if check.status != "ok"]
    if blocked:
        report.checks.append(
            Check(MODELS, "skipped", f"not examined: the {' and the '.join(blocked)} must be fixed first")
        )
        return report
    with Registry(settings) as registry:
        report.checks.extend(check_models(registry, options))
    return report


def check_database(url: str) -> Check:
    """The metadata database: reachable, and its schema at this shipyard's revision (read, not migrated)."""
    try:
        state = read_schema_state(url)
    except NotFound as error:
        return Check(
            DATABASE,
            "problem",
            str(error),
            "create the workspace with 'shipyard init', or set registry_url to the database it uses "
            "('shipyard config' shows where it comes from)",
        )
    except Unavailable as error:
        return Check(
            DATABASE,
            "problem",
            str(error),
            "start the database or make it reachable from here, or correct registry_url "
            "('shipyard config' shows where it comes from)",
        )
    except ShipyardError as error:
        return Check(
            DATABASE, "problem", str(error), "correct registry_url in shipyard.toml or $SHIPYARD_REGISTRY_URL"
        )
    where = display_url(url)
    if state.revision is None:
        return Check(
            DATABASE,
            "problem",
            f"{where} holds no shipyard schema",
            "run 'shipyard init --exist-ok' to create it, or set registry_url to the workspace's database",
        )
    if not state.known:
        return Check(
            DATABASE,
            "problem",
            f"{where} was migrated by a newer shipyard (schema revision {state.revision!r})",
            "upgrade shipyard (pip install -U shipyard) before using it",
        )
    if not state.at_head:
        return Check(
            DATABASE,
            "problem",
            f"{where} is at schema revision {state.revision!r}; this shipyard needs {state.head!r}",
            "back the database up, then run 'shipyard init --exist-ok', which applies the missing migrations",
        )
    return Check(DATABASE, "ok", f"{where} reachable, schema at revision {state.revision!r}")


def check_artifact_store(url: str) -> Check:
    """The artifact store: reachable and writable (a probe object written, read back and deleted)."""
    try:
        probe_writable(url, ARTIFACTS)
    except NotFound as error:
        return Check(
            ARTIFACTS,
            "problem",
            str(error),
            "restore the folder from a backup, or correct artifacts_url "
            "('shipyard config' shows where it comes from)",
        )
    except ShipyardError as error:
        return Check(
            ARTIFACTS,
            "problem",
            str(error),
            "make the store reachable and writable for this user (permissions, credentials, free space), "
            "or correct artifacts_url",
        )
    return Check(ARTIFACTS, "ok", f"{url} reachable and writable")


def check_prediction_log(url: str) -> Check:
    """The prediction log root: reachable (a missing folder is fine: the first logged prediction makes it)."""
    try:
        exists = root_exists(url, LOG)
    except ShipyardError as error:
        return Check(
            LOG,
            "problem",
            str(error),
            "make the log root reachable for this user, or correct log_url "
            "('shipyard config' shows where it comes from)",
        )
    if not exists:
        return Check(LOG, "ok", f"{url} reachable (no prediction logged yet)")
    return Check(LOG, "ok", f"{url} reachable")


def check_models(registry: Registry, options: DoctorOptions) -> list[Check]:
    """One check per alias target (or per version, with ``all_versions``) of each model examined."""
    names = list(options.models) or [model.name for model in registry.list_models()]
    checks: list[Check] = []
    for name in names:
        model = registry.get_model(name)  # NotFound, with close matches, for a name the caller mistyped
        targets: dict[int, list[str]] = {}
        for alias, number in sorted(model.aliases.items()):
            targets.setdefault(number, []).append(alias)
        if options.all_versions:
            for version in registry.list_versions(name):
                targets.setdefault(version.version, [])
        for number in sorted(targets):
            version = registry.get_version(name, number)
            checks.append(check_version(registry, version, targets[number], options))
    return checks


def check_version(
    registry: Registry, version: ModelVersion, aliases: list[str], options: DoctorOptions
) -> Check:
    """A version's artifact (present, hash right) and, with ``options.load``, its model loaded and run on its
    own hold-out rows, as a server does before it takes traffic."""
    subject = version.ref + (f" ({', '.join(f'{version.model}@{a}' for a in aliases)})" if aliases else "")
    away = _move_aliases(version, aliases)
    size = f"{version.artifact_size:,} bytes"
    if not options.load:
        try:
            registry.verify(version.ref)
        except IntegrityError as error:
            return Check(subject, "problem", str(error), away)
        return Check(subject, "ok", f"artifact present, sha256 verified ({size})")
    try:
        loaded = registry.load_model(version.ref, trust=options.trust)  # re-hashes the bytes first
    except IntegrityError as error:
        return Check(subject, "problem", str(error), away)
    except Unauthorized as error:
        fix = "if the server runs with --trust, run 'shipyard doctor --trust' as well"
        return Check(subject, "problem", str(error), fix)
    except Exception as error:  # a format's loader can raise anything the stored file makes it raise
        return Check(
            subject,
            "problem",
            f"{version.ref} ({version.flavor}) failed to load: {_said(error)}",
            "install what it needs to load (its lineage lists the packages); " + away,
        )
    answered, failure = _run_on_holdout(registry, version, loaded)
    if failure is not None:
        detail = f"{version.ref} loads but fails on its own hold-out rows, so a server refuses it: {failure}"
        return Check(subject, "problem", detail, away)
    ran = " and answers its hold-out rows" if answered else ""
    return Check(subject, "ok", f"artifact present, sha256 verified ({size}); loads as {version.flavor}{ran}")


def _run_on_holdout(
    registry: Registry, version: ModelVersion, loaded: LoadedModel
) -> tuple[bool, str | None]:
    """Run the model on its own hold-out rows, as a server warms a version and refuses one that fails:
    ``(answered, why it failed)``; ``(False, None)`` for a version without hold-out rows (rows made up from
    a contract only warn in a server too)."""
    try:
        rows, source = sample_rows(registry, version)
    except ShipyardError:
        return False, None
    if rows is None or source != "holdout":
        return False, None
    try:
        if version.input_schema:
            rows = Contract.from_dict(version.input_schema).validate(rows, mode="split").valid
        if len(rows):
            loaded.predict(rows)
    except Exception as error:
        return False, _said(error)
    return len(rows) > 0, None


def _move_aliases(version: ModelVersion, aliases: list[str]) -> str:
    """What to do meanwhile about the aliases that point at a broken version."""
    if not aliases:
        return "no alias points at it, so nothing serves it"
    named = ", ".join(f"{version.model}@{alias}" for alias in aliases)
    first = f"{version.model}@{aliases[0]}"
    return (
        f"meanwhile point {named} at a version that loads ('shipyard rollback {first}', or "
        f"'shipyard alias set {first} <version>')"
    )


def _said(error: BaseException) -> str:
    message = " ".join(str(error).split())
    return f"{type(error).__name__}: {message}" if message else type(error).__name__
