"""The generated CI files: their structure as the CI system reads it, and refusals of unsafe values."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from shipyard.cicd import CI_FILES, render_github_workflow, render_gitlab_pipeline, write_ci
from shipyard.config import load_settings
from shipyard.errors import Conflict, InvalidInput

TRAIN = 'shipyard train "$SPEC" --ref-file candidate.txt'
GATE = 'shipyard gate check "$(cat candidate.txt)" --to "$ALIAS" --junit gate-report.xml'


def github(spec: str = "spec.toml", alias: str = "production") -> dict[str, Any]:
    parsed: dict[str, Any] = yaml.safe_load(render_github_workflow(spec, alias))
    return parsed


def gitlab(spec: str = "spec.toml", alias: str = "production") -> dict[str, Any]:
    parsed: dict[str, Any] = yaml.safe_load(render_gitlab_pipeline(spec, alias))
    return parsed


def only_job(workflow: dict[str, Any]) -> dict[str, Any]:
    (job,) = workflow["jobs"].values()
    assert isinstance(job, dict)
    return job


# -- GitHub Actions ----------------------------------------------------------------------------------------
def test_github_workflow_runs_on_pushes_to_main_and_on_pull_requests() -> None:
    workflow = github()
    assert workflow["on"] == {"push": {"branches": ["main"]}, "pull_request": None}
    assert True not in workflow  # "on" is quoted, so YAML 1.1 readers do not see the boolean true
    job = only_job(workflow)
    assert job["runs-on"] == "ubuntu-latest"


def test_github_steps_train_gate_upload_then_promote_in_that_order() -> None:
    steps = only_job(github())["steps"]
    assert [step.get("uses", "").split("@")[0] for step in steps[:2]] == [
        "actions/checkout",
        "actions/setup-python",
    ]
    assert steps[1]["with"]["python-version"] == "3.11"
    assert steps[2]["run"] == 'pip install "shipyard[postgres,s3]"'
    assert steps[3]["run"] == TRAIN
    assert steps[4]["run"] == GATE
    upload = steps[5]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "gate-report.xml"
    promote = steps[6]
    assert promote["run"] == (
        'shipyard promote "$(cat candidate.txt)" --to "$ALIAS" --reason "CI: ${{ github.sha }}"'
    )
    assert len(steps) == 7
    assert "if" not in steps[3] and "if" not in steps[4]  # train and gate run on every trigger


def test_github_promotes_only_on_a_push_to_main() -> None:
    promote = only_job(github())["steps"][-1]
    assert promote["if"] == "github.ref == 'refs/heads/main' && github.event_name == 'push'"


def test_github_environment_carries_spec_alias_secrets_and_actor() -> None:
    env = only_job(github("specs/fraud.toml", "staging"))["env"]
    assert env["SPEC"] == "specs/fraud.toml"
    assert env["ALIAS"] == "staging"
    assert env["SHIPYARD_ACTOR"] == "github-actions"
    assert env["SHIPYARD_REGISTRY_URL"].startswith("${{ secrets.SHIPYARD_REGISTRY_URL ")
    assert env["SHIPYARD_ARTIFACTS_URL"].startswith("${{ secrets.SHIPYARD_ARTIFACTS_URL ")


def test_github_fallbacks_for_missing_secrets_are_the_default_settings(tmp_path: Path) -> None:
    """GitHub turns a missing secret into "": the fallback must mean exactly "no setting at all"."""
    env = only_job(github())["env"]
    fallbacks = {}
    for name in ("SHIPYARD_REGISTRY_URL", "SHIPYARD_ARTIFACTS_URL"):
        match = re.fullmatch(rf"\$\{{\{{ secrets\.{name} \|\| '([^']+)' \}}\}}", env[name])
        assert match is not None, env[name]
        fallbacks[name] = match.group(1)
    with_fallbacks = load_settings(tmp_path, environ=fallbacks)
    unset = load_settings(tmp_path, environ={})
    assert with_fallbacks.registry_url == unset.registry_url
    assert with_fallbacks.artifacts_url == unset.artifacts_url


def test_github_workflow_explains_secrets_and_asks_to_pin_the_version() -> None:
    text = render_github_workflow("spec.toml", "production")
    assert "throw" in text and "PostgreSQL" in text and "S3" in text and "promotions stick" in text
    pin = text.index("Pin the version")
    assert pin < text.index("pip install")


# -- GitLab CI ---------------------------------------------------------------------------------------------
def test_gitlab_stages_run_train_gate_promote_on_python_311() -> None:
    pipeline = gitlab()
    assert pipeline["stages"] == ["train", "gate", "promote"]
    assert pipeline["default"]["image"] == "python:3.11"
    assert pipeline["default"]["before_script"] == ['pip install "shipyard[postgres,s3]"']
    assert [pipeline[job]["stage"] for job in ("train", "gate", "promote")] == ["train", "gate", "promote"]
    assert pipeline["train"]["script"] == [TRAIN]
    assert pipeline["gate"]["script"] == [GATE]
    assert pipeline["promote"]["script"] == [
        'shipyard promote "$(cat candidate.txt)" --to "$ALIAS" --reason "CI: $CI_COMMIT_SHA"'
    ]


def test_gitlab_passes_the_candidate_on_and_reports_the_gate_as_junit() -> None:
    pipeline = gitlab()
    assert "candidate.txt" in pipeline["train"]["artifacts"]["paths"]
    gate = pipeline["gate"]["artifacts"]
    assert gate["reports"] == {"junit": "gate-report.xml"}
    assert gate["when"] == "always"  # a failed gate is exactly when the report matters


def test_gitlab_promotes_only_on_the_default_branch() -> None:
    pipeline = gitlab()
    assert pipeline["promote"]["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]
    assert "rules" not in pipeline["train"] and "rules" not in pipeline["gate"]


def test_gitlab_variables_hold_spec_alias_actor_and_never_reference_themselves() -> None:
    variables = gitlab("specs/fraud.toml", "staging")["variables"]
    assert variables["SPEC"] == "specs/fraud.toml"
    assert variables["ALIAS"] == "staging"
    assert variables["SHIPYARD_ACTOR"] == "gitlab-ci"
    # NAME: $NAME would turn an unset CI/CD variable into the literal text "$NAME".
    assert all(value != f"${name}" for name, value in variables.items())


# -- both --------------------------------------------------------------------------------------------------
RENDERERS = [
    pytest.param(lambda spec, alias: only_job(github(spec, alias))["env"], id="github"),
    pytest.param(lambda spec, alias: gitlab(spec, alias)["variables"], id="gitlab"),
]


@pytest.mark.parametrize("settings_of", RENDERERS)
@pytest.mark.parametrize(
    ("spec", "alias"),
    [
        ("specs/fraud v2: #1.toml", "prod eu"),
        ("spëc {a}.toml", "prod-eu_2"),
        ("../ml/spec.toml", "staging"),
        ("true", "null"),
    ],
)
def test_unusual_but_safe_values_reach_the_pipeline_unchanged(
    settings_of: Any, spec: str, alias: str
) -> None:
    values = settings_of(spec, alias)
    assert values["SPEC"] == spec
    assert values["ALIAS"] == alias


UNSAFE_SPECS = [
    'spec.toml"\n      EVIL: "1',
    "spec.toml'",
    "$(id).toml",
    "`id`.toml",
    "${{ secrets.GITHUB_TOKEN }}",
    "specs\\fraud.toml",
    "spec\u2028.toml",
    "spec\r.toml",
    "",
    " spec.toml",
    "--help",
    "/etc/spec.toml",
]
UNSAFE_ALIASES = ["prod\nuction", 'prod"', "it's", "$HOME", "`id`", "prod/eu", "latest", "3", "", "-x"]


@pytest.mark.parametrize("render", [render_github_workflow, render_gitlab_pipeline])
@pytest.mark.parametrize("spec", UNSAFE_SPECS)
def test_unsafe_spec_is_refused(render: Any, spec: str) -> None:
    with pytest.raises(InvalidInput, match="spec"):
        render(spec, "production")


@pytest.mark.parametrize("render", [render_github_workflow, render_gitlab_pipeline])
@pytest.mark.parametrize("alias", UNSAFE_ALIASES)
def test_unsafe_alias_is_refused(render: Any, alias: str) -> None:
    with pytest.raises(InvalidInput, match="alias"):
        render("spec.toml", alias)


# -- writing -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_write_ci_puts_the_file_where_the_ci_system_looks(kind: Any, tmp_path: Path) -> None:
    written = write_ci(kind, tmp_path, spec="spec.toml", alias="production")
    assert written == tmp_path.resolve() / CI_FILES[kind]
    assert written in {tmp_path / ".github/workflows/shipyard.yml", tmp_path / ".gitlab-ci.yml"}
    assert yaml.safe_load(written.read_text(encoding="utf-8"))


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_existing_ci_file_is_kept_unless_overwrite(kind: Any, tmp_path: Path) -> None:
    written = write_ci(kind, tmp_path, spec="spec.toml", alias="production")
    written.write_text("# hand-edited\n", encoding="utf-8")
    with pytest.raises(Conflict, match="--force-ci"):
        write_ci(kind, tmp_path, spec="spec.toml", alias="staging")
    assert written.read_text(encoding="utf-8") == "# hand-edited\n"
    write_ci(kind, tmp_path, spec="spec.toml", alias="staging", overwrite=True)
    assert "staging" in written.read_text(encoding="utf-8")


def test_unsafe_values_write_nothing(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        write_ci("github", tmp_path, spec="$(id)", alias="production")
    with pytest.raises(InvalidInput):
        write_ci("gitlab", tmp_path, spec="spec.toml", alias="it's")
    assert list(tmp_path.iterdir()) == []


def test_missing_project_directory_is_refused_not_created(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        write_ci("gitlab", tmp_path / "typo", spec="spec.toml", alias="production")
    assert not (tmp_path / "typo").exists()


def test_unknown_ci_system_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="github, gitlab"):
        write_ci("jenkins", tmp_path, spec="spec.toml", alias="production")  # type: ignore[arg-type]
