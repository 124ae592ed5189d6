"""A workspace: the directory holding ``shipyard.toml``, the SQLite database and the artifact folder.

A team workspace (``init_team_workspace``) is the same folder whose settings point at shared services: a
PostgreSQL database, an object store for artifacts and the prediction log. Each teammate (and each server)
creates one with the same URLs; the services are checked before anything is written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from shipyard.config import CONFIG_FILE, DEFAULT_HOME, Settings, load_settings
from shipyard.errors import ConfigurationError, Conflict, NotFound, Unavailable
from shipyard.store.database import Database
from shipyard.store.database_urls import without_password
from shipyard.store.file_copy import prepare_root
from shipyard.store.schema_state import display_url, read_schema_state

_TEMPLATE = """\
# shipyard workspace settings. Every value can also be set with a SHIPYARD_<NAME> environment variable
# (e.g. SHIPYARD_REGISTRY_URL), which wins over this file. Relative paths are relative to this folder.

[shipyard]
# Metadata database: SQLite here by default, or e.g. "postgresql+psycopg://user@host:5432/shipyard".
registry_url = "sqlite:///registry.db"
# Artifact store root: a folder here by default, or e.g. "s3://bucket/shipyard".
artifacts_url = "artifacts"
# Name written to the audit trail; empty means the operating-system user.
actor = ""
# Seconds to wait when another process holds the SQLite write lock.
busy_timeout = 30.0
# Gate policies may live in their own file instead of below, e.g. "gates.toml".
gates_file = ""

# Promotion gates: the checks a version must pass to reach an alias (see docs/gates.md).
# [gates.fraud.production]
# metrics = { roc_auc = ">= 0.85" }
# regression = { tolerance = 0.005 }
# latency = { p99_single_ms = 25 }
"""

#: Written into a new workspace: its database, artifacts and logs are data, never to be committed by accident
#: (``git add .`` in the project); its settings may be.
_GITIGNORE = """\
# Written by shipyard init: the database, artifacts and logs here stay out of git; shipyard.toml may be
# committed.
*
!.gitignore
!shipyard.toml
"""


def init_workspace(home: str | os.PathLike[str] | None = None, *, exist_ok: bool = False) -> Settings:
    """Create the workspace directory with its ``shipyard.toml`` and, when the directory is new, a
    ``.gitignore`` that keeps the rest (the database, artifacts, logs) out of git; return its settings. An
    existing directory (``shipyard init .`` in a project) gets no ``.gitignore``: it would hide the project.

    An existing ``shipyard.toml`` is never overwritten: with ``exist_ok`` the workspace is simply reused,
    without it a Conflict says where it is.
    """
    root = _workspace_root(home)
    if (root / CONFIG_FILE).exists():
        if not exist_ok:
            raise Conflict(f"a workspace already exists at {root}; use it, or pass another directory")
    else:
        _write_workspace(root, _TEMPLATE)
    return load_settings(root)


def _workspace_root(home: str | os.PathLike[str] | None) -> Path:
    if home is not None:
        return Path(home).expanduser().resolve()
    if os.environ.get("SHIPYARD_HOME"):
        return Path(os.environ["SHIPYARD_HOME"]).expanduser().resolve()
    return Path.cwd() / DEFAULT_HOME  # init creates the workspace here, not in a parent's .shipyard


def _write_workspace(root: Path, settings_text: str) -> None:
    new = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    (root / CONFIG_FILE).write_text(settings_text, encoding="utf-8")
    if new:
        (root / ".gitignore").write_text(_GITIGNORE, encoding="utf-8")


def log_url_beside(artifacts_url: str) -> str:
    """Where a team's prediction log goes when no root is given: ``<artifacts_url>/logs``, beside the
    artifact store's ``objects/`` (so one bucket and one set of credentials hold both)."""
    return f"{str(artifacts_url).rstrip('/')}/logs"


@dataclass(frozen=True)
class TeamStorage:
    """The shared services a team workspace points at."""

    registry_url: str
    artifacts_url: str
    log_url: str


@dataclass(frozen=True)
class TeamWorkspace:
    """A team workspace made (or joined): its settings, and whether the database URL's password was left
    out of ``shipyard.toml`` (it must then come from ``$PGPASSWORD``, ``~/.pgpass`` or the environment)."""

    settings: Settings
    password_left_out: bool
    #: The database already held this shipyard's schema (a teammate created it): nothing was migrated.
    joined: bool


def init_team_workspace(
    home: str | os.PathLike[str] | None, storage: TeamStorage, *, exist_ok: bool = False
) -> TeamWorkspace:
    """Create a workspace whose ``registry_url``, ``artifacts_url`` and ``log_url`` are shared services.

    Before anything is written: the database must answer (and hold no schema from a newer shipyard), and
    both storage roots must take a probe object (written, read back, deleted; a local folder is created).
    Then the database is migrated to this shipyard's schema and ``shipyard.toml`` written, without the
    database's password. An existing workspace is reused with ``exist_ok`` only if it points at the same
    services. Errors name what failed and never show the password.
    """
    root = _workspace_root(home)
    stored_url, had_password = without_password(storage.registry_url)
    text = _team_settings(stored_url, storage)
    if (root / CONFIG_FILE).exists():
        _check_reusable(root, storage, exist_ok)
    settings = load_settings(
        root,
        registry_url=storage.registry_url,
        artifacts_url=storage.artifacts_url,
        log_url=storage.log_url,
    )
    joined = _check_database(settings.registry_url)
    prepare_root(settings.artifacts_url, "artifact store")
    prepare_root(settings.log_url, "prediction log")
    Database(settings.registry_url, busy_timeout=settings.busy_timeout).dispose()  # applies the migrations
    if not (root / CONFIG_FILE).exists():
        _write_workspace(root, text)
    return TeamWorkspace(settings, had_password, joined)


def _team_settings(stored_url: str, storage: TeamStorage) -> str:
    """The settings file's text: the template with the three URLs (as TOML strings: JSON's escapes are
    TOML's too)."""
    text = _TEMPLATE.replace(
        'registry_url = "sqlite:///registry.db"', f"registry_url = {json.dumps(stored_url)}"
    )
    return text.replace(
        'artifacts_url = "artifacts"',
        f"artifacts_url = {json.dumps(storage.artifacts_url)}\n"
        f"# Prediction log root: where servers write every prediction (a path, file:// or s3://).\n"
        f"log_url = {json.dumps(storage.log_url)}",
    )


def _check_reusable(root: Path, storage: TeamStorage, exist_ok: bool) -> None:
    if not exist_ok:
        raise Conflict(f"a workspace already exists at {root}; use it, or pass another directory")
    current = load_settings(root)
    wanted = load_settings(
        root, registry_url=storage.registry_url, artifacts_url=storage.artifacts_url, log_url=storage.log_url
    )
    for name in ("registry_url", "artifacts_url", "log_url"):
        have, want = str(getattr(current, name)), str(getattr(wanted, name))
        if name == "registry_url":  # the file holds it without its password
            have, want = without_password(have)[0], without_password(want)[0]
        if have != want:
            raise Conflict(
                f"the workspace at {root} already has another {name} "
                f"({display_url(str(getattr(current, name)))}); pass another directory, or edit its "
                f"{CONFIG_FILE}"
            )


def _check_database(url: str) -> bool:
    """Whether the database already holds this shipyard's schema; refuse one that does not answer or that a
    newer shipyard migrated. A SQLite file that does not exist yet is fine: it is created."""
    try:
        state = read_schema_state(url)
    except NotFound:
        return False
    except Unavailable as error:
        raise Unavailable(
            f"{error}: check the host, port, user and password, and that the database exists "
            "(createdb), then run init again"
        ) from None
    if not state.known:
        raise ConfigurationError(
            f"the database {display_url(url)} was migrated by a newer shipyard (schema revision "
            f"{state.revision!r}); upgrade shipyard (pip install -U shipyard) to use it"
        )
    return state.at_head
