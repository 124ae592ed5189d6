"""The commands of docs/configuration.md's "Moving to a team workspace" run as written, in a folder holding
a workspace, with the database and bucket of the example swapped for the local PostgreSQL and a folder."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shipyard import Registry
from tests.workspace_migration.conftest import FEATURES, SourceWorkspace, file_sha256

pytestmark = pytest.mark.postgres

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
HEADING = "## Moving to a team workspace"
EXAMPLE_DB = "postgresql+psycopg://shipyard@db.internal:5432/shipyard"
EXAMPLE_BUCKET = "s3://ml-shipyard/shipyard"


def section_script() -> str:
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index(HEADING) :]
    end = section.find("\n## ", 1)
    section = section if end < 0 else section[:end]
    scripts = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    assert scripts, f"no bash block under {HEADING!r}"
    return "\n".join(scripts)


def test_the_documented_move_runs_as_written(
    source: SourceWorkspace, postgres_url: str, tmp_path: Path
) -> None:
    script = section_script()
    assert EXAMPLE_DB in script and EXAMPLE_BUCKET in script
    shutil.copytree(source.home, tmp_path / ".shipyard")
    before = file_sha256(tmp_path / ".shipyard" / "registry.db")
    store = tmp_path / "bucket"
    script = script.replace(EXAMPLE_DB, f"'{postgres_url}'").replace(EXAMPLE_BUCKET, str(store))
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"

    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr
    assert "moved:" in done.stdout and "team workspace ready" in done.stdout
    assert re.search(r"^churn\s+3\s+production=v1", done.stdout, flags=re.MULTILINE), done.stdout
    assert file_sha256(tmp_path / ".shipyard" / "registry.db") == before
    with Registry(home=tmp_path / "team-workspace") as team:
        predicted = team.load_model("churn@production").predict(source.frame[FEATURES])
        assert predicted.tolist() == source.predictions
