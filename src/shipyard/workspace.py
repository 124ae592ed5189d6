"""A workspace: the directory holding ``shipyard.toml``, the SQLite database and the artifact folder."""

from __future__ import annotations

import os
from pathlib import Path

from shipyard.config import CONFIG_FILE, DEFAULT_HOME, Settings, load_settings
from shipyard.errors import Conflict

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
    if home is not None:
        root = Path(home).expanduser().resolve()
    elif os.environ.get("SHIPYARD_HOME"):
        root = Path(os.environ["SHIPYARD_HOME"]).expanduser().resolve()
    else:  # init creates the workspace here, rather than finding one in a parent folder
        root = Path.cwd() / DEFAULT_HOME
    config_file = root / CONFIG_FILE
    if config_file.exists():
        if not exist_ok:
            raise Conflict(f"a workspace already exists at {root}; use it, or pass another directory")
    else:
        new = not root.exists()
        root.mkdir(parents=True, exist_ok=True)
        config_file.write_text(_TEMPLATE, encoding="utf-8")
        if new:
            (root / ".gitignore").write_text(_GITIGNORE, encoding="utf-8")
    return load_settings(root)
