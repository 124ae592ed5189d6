"""CI pipelines that train, gate and promote a model on every change: GitHub Actions and GitLab CI.

``shipyard init --ci github|gitlab`` writes one of these files into a repository. Every run trains a
candidate from the repository's training spec, gates it against the alias it would replace, and — on the
main branch only — promotes it. The pipeline is nothing but ``shipyard`` commands, so whatever CI does can
be run by hand, step by step (docs/cicd.md).

The files are hand-written templates rather than dumped dictionaries because their comments are the
documentation a reader meets first: which secrets to set, why a step exists, what its exit codes mean. Only
two values are filled in, the spec path and the alias. Both end up inside YAML that a CI system expands
(``$NAME`` on GitLab, ``${{ … }}`` on GitHub) and the shell runs, so anything that could close a quote,
start a new line or be expanded is refused rather than escaped.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Literal, get_args

from shipyard.errors import Conflict, InvalidInput
from shipyard.refs import validate_alias

CiKind = Literal["github", "gitlab"]
CI_KINDS: tuple[CiKind, ...] = get_args(CiKind)

#: Where each CI system looks for its pipeline, relative to the repository root.
CI_FILES: dict[CiKind, Path] = {
    "github": Path(".github/workflows/shipyard.yml"),
    "gitlab": Path(".gitlab-ci.yml"),
}

# Quotes and backslashes would end or escape the YAML string; '$' and backticks are expanded by GitLab,
# GitHub ("${{ }}") or the shell. Line and paragraph separators count as line breaks in YAML.
_UNSAFE_CHARACTERS = frozenset("\"'`$\\")
_LINE_BREAK_CATEGORIES = frozenset({"Zl", "Zp"})

_GITHUB_TEMPLATE = """\
# shipyard: train a candidate model, gate it against the alias it would replace, promote it on main.
# Written by `shipyard init --ci github`; edit freely. Every step is a shipyard command you can also run
# by hand: see docs/cicd.md.
name: shipyard

# Quoted because YAML 1.1 parsers (PyYAML among them) read a bare `on` as the boolean true.
"on":
  push:
    branches: [main]
  pull_request:

permissions:
  contents: read

# One run per branch at a time, so two pushes to main cannot promote out of order.
concurrency:
  group: shipyard-${{ github.ref }}
  cancel-in-progress: false

jobs:
  model:
    name: train, gate, promote
    runs-on: ubuntu-latest
    env:
      SPEC: __SPEC__
      ALIAS: __ALIAS__
      # Without the two secrets below, every run uses a workspace inside the runner (./.shipyard: SQLite
      # and local files) that is thrown away with the runner: training and gating still work, but a
      # promotion is forgotten when the job ends. A shared registry is what makes promotions stick:
      # PostgreSQL for SHIPYARD_REGISTRY_URL (postgresql+psycopg://user:password@host:5432/shipyard) and
      # S3 for SHIPYARD_ARTIFACTS_URL (s3://bucket/shipyard, with AWS credentials in the environment).
      # Set both or neither. The fallbacks are shipyard's own defaults: GitHub turns a missing secret into
      # an empty string, which is not a database URL.
      SHIPYARD_REGISTRY_URL: ${{ secrets.SHIPYARD_REGISTRY_URL || 'sqlite:///registry.db' }}
      SHIPYARD_ARTIFACTS_URL: ${{ secrets.SHIPYARD_ARTIFACTS_URL || 'artifacts' }}
      SHIPYARD_ACTOR: github-actions
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: Install shipyard
        # Pin the version you tested with, e.g. "shipyard[postgres,s3]==0.1.0", so that a new release
        # cannot change what this pipeline promotes.
        run: pip install "shipyard[postgres,s3]"
      - name: Train a candidate
        # Registers a new version and writes its reference (e.g. fraud/4) to candidate.txt.
        run: shipyard train "$SPEC" --ref-file candidate.txt
      - name: Gate the candidate
        # Exit code 0: every check passed; 1: a check failed; 2: the gate could not run. Any non-zero
        # code fails the job, so the candidate is not promoted.
        run: shipyard gate check "$(cat candidate.txt)" --to "$ALIAS" --junit gate-report.xml
      - name: Upload the gate report
        if: always()
        uses: actions/upload-artifact@v4
        with:
          name: gate-report
          path: gate-report.xml
      - name: Promote the candidate
        if: github.ref == 'refs/heads/main' && github.event_name == 'push'
        run: 'shipyard promote "$(cat candidate.txt)" --to "$ALIAS" --reason "CI: ${{ github.sha }}"'
"""

_GITLAB_TEMPLATE = """\
# shipyard: train a candidate model, gate it against the alias it would replace, promote it on the
# default branch. Written by `shipyard init --ci gitlab`; edit freely. Every job is a shipyard command you
# can also run by hand: see docs/cicd.md.

# Pipelines for merge requests and for the default branch, like the GitHub workflow's triggers.
workflow:
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH

stages:
  - train
  - gate
  - promote

variables:
  SPEC: __SPEC__
  ALIAS: __ALIAS__
  SHIPYARD_ACTOR: gitlab-ci
  # SHIPYARD_REGISTRY_URL and SHIPYARD_ARTIFACTS_URL come from Settings > CI/CD > Variables (mark them
  # Masked); GitLab hands those to every job. They are not repeated here on purpose: `NAME: $NAME` turns an
  # unset variable into the literal text "$NAME". Without them, each pipeline uses a workspace inside the
  # job (./.shipyard: SQLite and local files, passed from job to job as an artifact) that is thrown away
  # with the pipeline: training and gating still work, but a promotion is forgotten. A shared registry is
  # what makes promotions stick: PostgreSQL for SHIPYARD_REGISTRY_URL
  # (postgresql+psycopg://user:password@host:5432/shipyard) and S3 for SHIPYARD_ARTIFACTS_URL
  # (s3://bucket/shipyard, with AWS credentials as variables too). Set both or neither. Variables marked
  # Protected reach only protected branches: merge-request pipelines then gate in a throw-away workspace.

default:
  image: python:3.11
  before_script:
    # Pin the version you tested with, e.g. "shipyard[postgres,s3]==0.1.0", so that a new release cannot
    # change what this pipeline promotes.
    - pip install "shipyard[postgres,s3]"

train:
  stage: train
  script:
    # Registers a new version and writes its reference (e.g. fraud/4) to candidate.txt.
    - shipyard train "$SPEC" --ref-file candidate.txt
  artifacts:
    paths:
      - candidate.txt
      - .shipyard/
    expire_in: 1 week

gate:
  stage: gate
  script:
    # Exit code 0: every check passed; 1: a check failed; 2: the gate could not run. Any non-zero code
    # fails the job, so the candidate is not promoted.
    - shipyard gate check "$(cat candidate.txt)" --to "$ALIAS" --junit gate-report.xml
  artifacts:
    when: always
    paths:
      - gate-report.xml
      - .shipyard/
    reports:
      junit: gate-report.xml
    expire_in: 1 week

promote:
  stage: promote
  rules:
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
  script:
    - 'shipyard promote "$(cat candidate.txt)" --to "$ALIAS" --reason "CI: $CI_COMMIT_SHA"'
"""


def render_github_workflow(spec: str, alias: str) -> str:
    """The GitHub Actions workflow that trains from ``spec`` and gates and promotes to ``alias``."""
    return _fill(_GITHUB_TEMPLATE, spec, alias)


def render_gitlab_pipeline(spec: str, alias: str) -> str:
    """The GitLab CI pipeline that trains from ``spec`` and gates and promotes to ``alias``."""
    return _fill(_GITLAB_TEMPLATE, spec, alias)


def check_ci_target(
    kind: CiKind, project_dir: Path, *, spec: str, alias: str, overwrite: bool = False
) -> Path:
    """Check everything ``write_ci`` would refuse, without writing; return the file it would write.

    ``shipyard init --ci`` calls this before creating the workspace, so a refused pipeline leaves nothing
    half-done behind.
    """
    _check_spec(spec)
    _check_alias(alias)
    if kind not in CI_FILES:
        raise InvalidInput(f"unknown CI system {kind!r}; choose one of: {', '.join(CI_KINDS)}")
    root = Path(project_dir).expanduser()
    if not root.is_dir():
        raise InvalidInput(
            f"project directory {str(root)!r} does not exist; pass the root of the repository the CI runs"
        )
    target = root.resolve() / CI_FILES[kind]
    if target.is_dir():
        raise Conflict(f"{target} is a directory; move it away to write the {kind} pipeline there")
    if target.exists() and not overwrite:
        raise Conflict(f"{target} exists already; keep it, or pass --force-ci to replace it")
    return target


def write_ci(kind: CiKind, project_dir: Path, *, spec: str, alias: str, overwrite: bool = False) -> Path:
    """Write the ``kind`` pipeline into the repository at ``project_dir``; return the file written.

    An existing pipeline file is someone's work: it is replaced only with ``overwrite``.
    """
    target = check_ci_target(kind, project_dir, spec=spec, alias=alias, overwrite=overwrite)
    text = render_github_workflow(spec, alias) if kind == "github" else render_gitlab_pipeline(spec, alias)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


def _fill(template: str, spec: str, alias: str) -> str:
    # JSON strings are valid YAML double-quoted scalars; after the checks they are plain "text" anyway.
    return template.replace("__SPEC__", json.dumps(_check_spec(spec), ensure_ascii=False)).replace(
        "__ALIAS__", json.dumps(_check_alias(alias), ensure_ascii=False)
    )


def _check_spec(spec: str) -> str:
    if not isinstance(spec, str):
        raise InvalidInput(f"the training spec path must be a string, got {type(spec).__name__}")
    if not spec.strip():
        raise InvalidInput("the training spec path must not be empty; pass e.g. --spec spec.toml")
    if spec != spec.strip():
        raise InvalidInput(f"training spec path {spec.strip()!r} must not start or end with white space")
    _refuse_unsafe(spec, "training spec path")
    if PurePosixPath(spec).is_absolute() or PureWindowsPath(spec).is_absolute():
        raise InvalidInput(
            f"training spec path {spec!r} is absolute; the CI runs in its own checkout, so pass a path "
            "relative to the repository root"
        )
    return spec


def _check_alias(alias: str) -> str:
    _refuse_unsafe(validate_alias(alias), "alias")
    return alias


def _refuse_unsafe(value: str, kind: str) -> None:
    bad = sorted(
        {
            ch
            for ch in value
            if ch in _UNSAFE_CHARACTERS
            or unicodedata.category(ch).startswith("C")
            or unicodedata.category(ch) in _LINE_BREAK_CATEGORIES
        }
    )
    if bad:
        shown = " ".join(repr(ch) for ch in bad)
        raise InvalidInput(
            f"{kind} {value!r} must not contain {shown}: it is written into the CI file, where quotes, "
            "backslashes, line breaks, '$' and backticks could change the YAML or be run by the shell"
        )
    if value.startswith("-"):
        raise InvalidInput(
            f"{kind} {value!r} must not start with '-': the command would read it as an option"
        )
