"""Moving a workspace to other storage: its database into another (PostgreSQL), its files into another store.

``migrate_workspace`` is what ``shipyard migrate-workspace`` runs. A laptop's embedded workspace (SQLite and
local folders) becomes a team's (PostgreSQL and an object store) with nothing lost and nothing changed:

1. the destination database is opened (created and migrated to this shipyard's schema), and the source
   read in one read-only snapshot, which must be at the same schema revision;
2. the copy is planned: a destination holding other data is refused here, before anything is written;
   then both destination storage roots must take a probe object (a missing bucket is refused);
3. every artifact the source's versions and datasets refer to is copied and verified at the destination,
   before the rows that refer to it (so a destination version always has its artifact);
4. every table's rows, parents first, ids kept; PostgreSQL's id sequences moved past them;
5. the prediction log's segments;
6. every table counted again on both sides.

Each step skips what is already at the destination, so running it again is safe, and completes a run that
was interrupted. The source is never written to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shipyard.config import Settings, load_settings
from shipyard.errors import ConfigurationError, InvalidInput
from shipyard.predictions.segments import TEMPORARY_SUFFIX
from shipyard.store.artifacts import ArtifactStore
from shipyard.store.database import HEAD_REVISION, Database
from shipyard.store.file_copy import FileCount, copy_artifacts, copy_tree, prepare_root
from shipyard.store.schema_state import display_url
from shipyard.store.table_copy import (
    StoredArtifact,
    TableCount,
    advance_sequences,
    copy_rows,
    count_rows,
    plan_copy,
    read_only_snapshot,
    schema_revision,
    stored_artifacts,
)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class MigrationTarget:
    """Where a workspace moves: a database URL, an artifact store root and a prediction log root."""

    registry_url: str
    artifacts_url: str
    log_url: str

    def describe(self) -> dict[str, str]:
        """The three URLs, the database's password hidden."""
        return {
            "registry_url": display_url(self.registry_url),
            "artifacts_url": str(self.artifacts_url),
            "log_url": str(self.log_url),
        }


@dataclass(frozen=True)
class MigrationReport:
    """What a move found and did: every table's counts, the artifacts and the prediction log's files."""

    source: dict[str, str]
    target: dict[str, str]
    tables: list[TableCount] = field(default_factory=list)
    files: list[FileCount] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every row and file of the source is at the destination."""
        return all(table.complete for table in self.tables) and all(files.complete for files in self.files)

    @property
    def copied_rows(self) -> int:
        return sum(table.copied for table in self.tables)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "destination": self.target,
            "complete": self.complete,
            "tables": [table.to_dict() for table in self.tables],
            "files": [files.to_dict() for files in self.files],
        }


def migrate_workspace(
    source: Settings, target: MigrationTarget, progress: Progress | None = None
) -> MigrationReport:
    """Copy the workspace of ``source`` to ``target`` (see the module's docstring for the steps).

    Raises ``InvalidInput`` when the destination database is the source's own, ``ConfigurationError`` when
    the source is not at this shipyard's schema revision, ``Conflict`` naming the table (or file) when the
    destination holds other data, ``IntegrityError`` when an artifact is damaged in the source or at the
    destination, ``Unavailable`` when either side cannot be reached. Nothing is written before the checks.
    """
    say = progress or (lambda _message: None)
    if display_url(source.registry_url) == display_url(target.registry_url):
        raise InvalidInput(
            f"the destination database {display_url(target.registry_url)} is the workspace's own: "
            "give --to-db another database"
        )
    target = _with_object_store(target, source)
    with read_only_snapshot(source.registry_url) as snapshot:
        _require_head(schema_revision(snapshot), source)
        destination = Database(target.registry_url, busy_timeout=source.busy_timeout)
        try:
            report = MigrationReport(_describe(source), target.describe())
            before = _counts(destination)
            say("comparing the destination with the workspace")
            missing = plan_copy(snapshot, destination)
            prepare_root(target.artifacts_url, "artifact store")  # a missing bucket is refused here
            prepare_root(target.log_url, "prediction log")
            say("copying artifacts")
            artifacts = _copy_artifacts(source, target, stored_artifacts(snapshot), say)
            copied = copy_rows(snapshot, destination, missing, say)
            advance_sequences(destination)
            say("copying the prediction log")
            log = copy_tree(
                source.log_url, target.log_url, "prediction log", skip_suffix=TEMPORARY_SUFFIX, progress=say
            )
            sources, after = count_rows(snapshot), _counts(destination)
        finally:
            destination.dispose()
    report.tables.extend(
        TableCount(name, sources[name], before[name], copied[name], after[name]) for name in sources
    )
    report.files.extend([artifacts, log])
    return report


def _copy_artifacts(
    source: Settings, target: MigrationTarget, wanted: list[StoredArtifact], say: Progress
) -> FileCount:
    """Copy ``wanted``; the workspace's store is opened only when there is something to read in it (opening
    a local store creates its folders, and the workspace is not to be written to)."""
    destination = ArtifactStore(target.artifacts_url)
    if not wanted:
        return FileCount("artifacts", 0, 0, 0, 0)
    return copy_artifacts(ArtifactStore(source.artifacts_url), destination, wanted, say)


def _with_object_store(target: MigrationTarget, source: Settings) -> MigrationTarget:
    """The target's URLs as the workspace's settings give them: storage roots that carry its object-store
    settings (endpoint, credentials), plain paths as ``file://`` URLs."""
    settings = load_settings(
        source.home,
        registry_url=target.registry_url,
        artifacts_url=target.artifacts_url,
        log_url=target.log_url,
    )
    return MigrationTarget(settings.registry_url, settings.artifacts_url, settings.log_url)


def _require_head(revision: str | None, source: Settings) -> None:
    if revision == HEAD_REVISION:
        return
    if revision is None:
        raise ConfigurationError(
            f"the workspace's database {display_url(source.registry_url)} holds no shipyard schema: "
            "there is nothing to move"
        )
    raise ConfigurationError(
        f"the workspace's database is at schema revision {revision!r} and this shipyard's is "
        f"{HEAD_REVISION!r}: back it up, run 'shipyard init --exist-ok' in the workspace to upgrade it "
        "(or use the shipyard that wrote it), then move it"
    )


def _counts(database: Database) -> dict[str, int]:
    with database.reading() as session:
        return count_rows(session)


def _describe(settings: Settings) -> dict[str, str]:
    return {
        "home": str(settings.home),
        "registry_url": display_url(settings.registry_url),
        "artifacts_url": str(settings.artifacts_url),
        "log_url": str(settings.log_url),
    }
