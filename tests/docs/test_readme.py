"""The README's quickstart runs as written, top to bottom, in one fresh folder (the install block aside)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"

pytestmark = pytest.mark.slow


def quickstart_script() -> str:
    """The quickstart's blocks in order as one bash script: shell blocks as they are, Python blocks fed to
    the interpreter; the block that clones and installs is left out (the test runs in the installed venv)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Five-minute quickstart") :]
    section = section[: section.index("\n## ", 1)]
    lines = ["set -euo pipefail"]
    for language, body in re.findall(r"```(bash|python)\n(.*?)```", section, flags=re.DOTALL):
        if language == "python":
            lines.append(f"python - <<'PYTHON'\n{body}PYTHON")
        elif "pip install" not in body:
            lines.append(body)
    return "\n".join(lines)


def test_quickstart_runs_top_to_bottom_in_a_fresh_folder(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("SHIPYARD_HOME", None)
    ran = subprocess.run(
        ["bash", "-c", quickstart_script()], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert ran.returncode == 0, f"{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}"
    folder = tmp_path / "try-shipyard"
    workspace = folder / ".shipyard"
    assert f"workspace: {workspace}" in ran.stderr  # mutating commands say which workspace they change
    assert (folder / "preds" / "_SUCCESS").is_file()

    def cli(*args: str) -> object:
        done = subprocess.run(
            ["shipyard", *args, "--json"], cwd=folder, env=env, capture_output=True, text=True, check=True
        )
        return json.loads(done.stdout)

    production = cli("models", "show", "fraud@production")
    assert isinstance(production, dict) and production["version"] == 1  # the version `train` printed
    audit = cli("audit", "--model", "churn")
    assert isinstance(audit, list) and audit[-1]["action"] == "alias.rollback"
