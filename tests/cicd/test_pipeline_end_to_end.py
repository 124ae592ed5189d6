"""The generated pipelines' shipyard steps, run locally in order, train, gate and promote a real model.

Each test writes a pipeline file, a CSV and a training spec into a fresh project folder, takes every
shipyard command out of the pipeline exactly as the CI system would run it — the variables the file
declares in the environment, CI expressions replaced as on a fork without secrets — and runs each with
``bash -c``. What a user sees afterwards: ``fraud@production`` is version 1, with a JUnit gate report.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from shipyard.cicd import write_ci

pytestmark = pytest.mark.slow

FAKE_SHA = "0123456789abcdef0123456789abcdef01234567"
SPEC = textwrap.dedent(
    """\
    model = "fraud"
    seed = 1
    [data]
    path = "tx.csv"
    target = "fraud"
    [estimator]
    class = "sklearn.linear_model.LogisticRegression"
    params = { max_iter = 300 }
    [cv]
    folds = 3
    """
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A repository folder with the training data and the spec the pipeline trains from."""
    root = tmp_path / "repo"
    root.mkdir()
    rng = np.random.default_rng(1)
    rows = 300
    amount = rng.lognormal(3.0, 1.0, size=rows).round(2)
    channel = rng.choice(["web", "app", "pos"], size=rows)
    hour = rng.integers(0, 24, size=rows)
    risk = -2.0 + 0.02 * amount + 1.0 * (channel == "web") + 0.8 * (hour < 6)
    fraud = (rng.random(rows) < 1.0 / (1.0 + np.exp(-risk))).astype(int)
    table = pd.DataFrame({"amount": amount, "channel": channel, "hour": hour, "fraud": fraud})
    table.to_csv(root / "tx.csv", index=False)
    (root / "spec.toml").write_text(SPEC, encoding="utf-8")
    return root


def _github_expression(text: str) -> str:
    """Evaluate the ``${{ … }}`` expressions the workflow uses, as on a run without secrets."""

    def evaluate(match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression == "github.sha":
            return FAKE_SHA
        fallback = re.fullmatch(r"secrets\.\w+ \|\| '([^']*)'", expression)
        if fallback is not None:
            return fallback.group(1)
        pytest.fail(f"the workflow uses an expression this test cannot evaluate: {expression!r}")

    return re.sub(r"\$\{\{\s*(.*?)\s*\}\}", evaluate, text)


def github_steps(workflow: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """The job's shipyard ``run:`` commands in order, and the environment the workflow declares."""
    (job,) = workflow["jobs"].values()
    env = {
        name: _github_expression(str(value))
        for name, value in {**workflow.get("env", {}), **job["env"]}.items()
    }
    commands = []
    for step in job["steps"]:
        assert "env" not in step, "step-level env is not simulated here"
        command = str(step.get("run", "")).strip()
        if command.startswith("shipyard"):
            commands.append(_github_expression(command))
    return commands, env


def gitlab_steps(pipeline: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """Every job's shipyard ``script:`` lines, stage by stage, and the variables the file declares."""
    jobs = [job for job in pipeline.values() if isinstance(job, dict) and "script" in job]
    commands = [
        line.strip()
        for stage in pipeline["stages"]
        for job in jobs
        if job["stage"] == stage
        for line in job["script"]
        if line.strip().startswith("shipyard")
    ]
    env = {name: str(value) for name, value in pipeline.get("variables", {}).items()}
    predefined = {"CI_COMMIT_SHA": FAKE_SHA, "CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main"}
    return commands, {**predefined, **env}


def run_steps(
    commands: list[str], pipeline_env: dict[str, str], project: Path, home: Path | None
) -> dict[str, str]:
    """Run each command with bash in the project folder; return the environment used. Without ``home``
    shipyard finds its workspace as on a CI runner: ./.shipyard in the project folder."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("SHIPYARD_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(pipeline_env)
    if home is not None:
        env["SHIPYARD_HOME"] = str(home)
    for command in commands:
        done = subprocess.run(
            ["bash", "-c", command], cwd=project, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, (
            f"{command!r} exited with {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )
    return env


def shipyard_json(env: dict[str, str], project: Path, *args: str) -> Any:
    done = subprocess.run(
        ["shipyard", *args, "--json"], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_candidate_promoted(project: Path, env: dict[str, str], actor: str) -> None:
    assert (project / "candidate.txt").read_text(encoding="utf-8").strip() == "fraud/1"
    report = ElementTree.parse(project / "gate-report.xml").getroot()
    assert report.tag in {"testsuite", "testsuites"}
    production = shipyard_json(env, project, "models", "show", "fraud@production")
    assert production["version"] == 1
    assert production["created_by"] == actor  # trained with the actor the pipeline declares
    audit = shipyard_json(env, project, "audit", "--model", "fraud")
    assert any(FAKE_SHA in (event.get("reason") or "") for event in audit)  # the promotion names the commit


def test_github_workflow_steps_train_gate_and_promote_locally(project: Path, tmp_path: Path) -> None:
    workflow_file = write_ci("github", project, spec="spec.toml", alias="production")
    commands, pipeline_env = github_steps(yaml.safe_load(workflow_file.read_text(encoding="utf-8")))
    assert [command.split()[1] for command in commands] == ["train", "gate", "promote"]
    assert pipeline_env["SPEC"] == "spec.toml" and pipeline_env["ALIAS"] == "production"
    env = run_steps(commands, pipeline_env, project, tmp_path / "ws")
    assert_candidate_promoted(project, env, actor="github-actions")


def test_gitlab_pipeline_scripts_train_gate_and_promote_locally(project: Path, tmp_path: Path) -> None:
    pipeline_file = write_ci("gitlab", project, spec="spec.toml", alias="production")
    commands, pipeline_env = gitlab_steps(yaml.safe_load(pipeline_file.read_text(encoding="utf-8")))
    assert [command.split()[1] for command in commands] == ["train", "gate", "promote"]
    env = run_steps(commands, pipeline_env, project, tmp_path / "ws")
    assert_candidate_promoted(project, env, actor="gitlab-ci")


def test_gitlab_jobs_in_separate_folders_hand_the_workspace_on_as_artifacts(
    project: Path, tmp_path: Path
) -> None:
    """Without a shared registry each GitLab job starts from a fresh checkout plus the earlier jobs'
    artifacts; the throw-away workspace (./.shipyard) must travel with them for gate and promote to work."""
    write_ci("gitlab", project, spec="spec.toml", alias="production")
    pipeline = yaml.safe_load((project / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    _, pipeline_env = gitlab_steps(pipeline)
    jobs = [(name, job) for name, job in pipeline.items() if isinstance(job, dict) and "script" in job]
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    job_dir = project
    for stage in pipeline["stages"]:
        for name, job in jobs:
            if job["stage"] != stage:
                continue
            job_dir = tmp_path / "jobs" / name
            shutil.copytree(project, job_dir)  # a fresh checkout: the repository files only
            shutil.copytree(artifacts, job_dir, dirs_exist_ok=True)
            commands = [line for line in job["script"] if line.strip().startswith("shipyard")]
            env = run_steps(commands, pipeline_env, job_dir, home=None)
            for path in job.get("artifacts", {}).get("paths", []):
                produced = job_dir / path
                if produced.is_dir():
                    shutil.copytree(produced, artifacts / path, dirs_exist_ok=True)
                elif produced.is_file():
                    shutil.copy2(produced, artifacts / path)
    assert job_dir.name == "promote"
    production = shipyard_json(env, job_dir, "models", "show", "fraud@production")
    assert production["version"] == 1
