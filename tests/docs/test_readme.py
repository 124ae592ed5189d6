"""The README's quickstart runs as written: its Python block, then its shell block, in a fresh folder."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"

pytestmark = pytest.mark.slow


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_quickstart_python_then_cli_runs_as_written(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("SHIPYARD_HOME", None)
    python_block = next(block for block in _blocks("python") if "shipyard.Registry()" in block)
    ran = subprocess.run(
        [sys.executable, "-c", python_block], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "model.skops").is_file()

    shell_block = next(block for block in _blocks("bash") if "shipyard register" in block)
    for line in shell_block.splitlines():
        command = line.split("#", 1)[0].strip()
        if not command:
            continue
        done = subprocess.run(shlex.split(command), cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{command!r} failed: {done.stderr}"
    audit = subprocess.run(
        ["shipyard", "audit", "--model", "fraud", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    actions = [event["action"] for event in json.loads(audit.stdout)]
    assert actions[-1] == "alias.rollback"


def test_train_gate_promote_block_runs_on_the_example(tmp_path: Path) -> None:
    example = README.parent / "examples" / "fraud"
    work = tmp_path / "examples" / "fraud"
    shutil.copytree(example, work)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env["SHIPYARD_HOME"] = str(tmp_path / "ws")
    trained = next(block for block in _blocks("bash") if "shipyard train spec.toml" in block)
    put_to_work = next(block for block in _blocks("bash") if "shipyard score fraud@production" in block)
    for line in (trained + put_to_work).splitlines():
        command = line.split("#", 1)[0].strip()
        if not command or command.startswith("cd "):
            continue
        done = subprocess.run(shlex.split(command), cwd=work, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{command!r} failed: {done.stderr}"
    shown = subprocess.run(
        ["shipyard", "models", "show", "fraud@production", "--json"], env=env, capture_output=True, text=True
    )
    assert json.loads(shown.stdout)["version"] == 1
    assert (work / "preds" / "_SUCCESS").is_file()
