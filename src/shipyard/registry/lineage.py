"""Lineage: what is needed to reproduce a model version, captured when it is registered.

Code (git commit and whether the tree had uncommitted changes), data (content hashes of every dataset the
model saw), environment (Python and package versions, platform), randomness (the seed) and people (who, on
which host, when). Capture never fails a registration: outside a git checkout the code fields are None.
"""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidInput

#: Packages whose versions are recorded whenever they are installed.
_TRACKED_PACKAGES = (
    "shipyard",
    "numpy",
    "pandas",
    "pyarrow",
    "scipy",
    "scikit-learn",
    "skops",
    "xgboost",
    "lightgbm",
    "onnx",
    "onnxruntime",
    "torch",
    "cloudpickle",
)


@functools.lru_cache(maxsize=256)
def package_version(distribution: str) -> str | None:
    """The installed version of a distribution, or None (cached: installs do not change mid-process)."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _git(directory: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=directory, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def code_state(directory: Path | None = None) -> dict[str, Any]:
    """The git commit of ``directory`` (default: the working directory) and whether the tree is dirty."""
    where = directory or Path.cwd()
    if not where.is_dir():
        return {"commit": None, "dirty": None, "repository": None}
    head = _git(where, "rev-parse", "HEAD", "--show-toplevel")
    if head is None or len(head.splitlines()) != 2:
        return {"commit": None, "dirty": None, "repository": None}
    commit, top = head.splitlines()
    status = _git(where, "status", "--porcelain")
    return {"commit": commit, "dirty": bool(status), "repository": Path(top).name}


def validate_datasets(datasets: Mapping[str, str] | None) -> dict[str, str]:
    """Dataset role → sha256 hex digest; refuse anything that is not a full hash."""
    checked: dict[str, str] = {}
    for role, digest in (datasets or {}).items():
        if (
            not isinstance(digest, str)
            or len(digest) != 64
            or any(c not in "0123456789abcdef" for c in digest)
        ):
            raise InvalidInput(f"dataset {role!r} must be a 64-character lowercase sha256 hex digest")
        checked[str(role)] = digest
    return checked


def capture(
    *,
    actor: str,
    code_dir: Path | None = None,
    datasets: Mapping[str, str] | None = None,
    seed: int | None = None,
    extra_packages: Iterable[str] = (),
) -> dict[str, Any]:
    """Everything recorded about how and where a version was made."""
    names = dict.fromkeys([*_TRACKED_PACKAGES, *extra_packages])
    packages = {name: version for name in names if (version := package_version(name)) is not None}
    return {
        "code": code_state(code_dir),
        "datasets": validate_datasets(datasets),
        "seed": seed,
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "packages": packages,
        "registered_by": actor,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "registered_at": datetime.now(UTC).isoformat(),
    }
