"""A model's retraining policy is read from shipyard.toml and checked whole before anything runs: each
mistake is named with its key, and an unknown key with the closest known one."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from shipyard.config import load_settings
from shipyard.errors import InvalidInput, NotFound
from shipyard.retraining import DatasetSource, LogSource, SqlSource, load_policy, policy_from_dict

POLICY = """
[retraining.fraud]
spec = "spec.toml"
window = "90d"
data = { source = "log", labelled = true }
rollout = { strategy = "canary", steps = [10, 50, 100], interval = "10m" }

[retraining.fraud.triggers]
schedule = "0 3 * * *"
alerts = ["fraud-drift"]
new_labels = 5000

[retraining.fraud.guards]
min_rows = 1000
cooldown = "6h"
"""


def workspace(tmp_path: Path, text: str) -> Path:
    (tmp_path / "shipyard.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_a_declared_policy_reads_whole(tmp_path: Path) -> None:
    home = workspace(tmp_path, POLICY)
    policy = load_policy(load_settings(home), "fraud")
    assert (policy.model, policy.alias, policy.then, policy.window) == (
        "fraud",
        "production",
        "rollout",
        timedelta(days=90),
    )
    assert policy.data == LogSource(source="log", labelled=True)
    assert (policy.triggers.schedule, policy.triggers.alerts, policy.triggers.new_labels) == (
        "0 3 * * *",
        ("fraud-drift",),
        5000,
    )
    assert (policy.guards.min_rows, policy.guards.cooldown) == (1000, timedelta(hours=6))
    assert policy.spec_path(home) == home / "spec.toml"
    plan = policy.rollout_plan(candidate=4)
    assert (plan.model, plan.alias, plan.candidate, plan.steps) == ("fraud", "production", 4, (10, 50, 100))


def test_defaults_leave_only_spec_and_data_to_declare() -> None:
    data = {"source": "dataset", "name": "events"}
    policy = policy_from_dict("churn", {"spec": "churn.toml", "data": data})
    assert policy.data == DatasetSource(source="dataset", name="events", time_column=None)
    assert (policy.window, policy.triggers.schedule, policy.guards.min_rows) == (None, None, 100)
    assert policy.guards.cooldown == timedelta(hours=1) and policy.then == "rollout"
    assert policy.rollout_plan(candidate=2).strategy == "canary"


def test_a_sql_source_names_its_database() -> None:
    source = {"source": "sql", "url": "duckdb:///lake.db", "query": "select * from t where ts >= :start"}
    assert isinstance(policy_from_dict("m", {"spec": "s.toml", "data": source}).data, SqlSource)
    with pytest.raises(InvalidInput, match=r"data\.sql\.url: 'mysql://x' is neither postgresql"):
        policy_from_dict("m", {"spec": "s.toml", "data": {**source, "url": "mysql://x"}})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"triggers": {"shedule": "0 3 * * *"}}, r"triggers\.shedule: unknown key; did you mean 'schedule'"),
        ({"windw": "1d"}, r"windw: unknown key; did you mean 'window'\?"),
        ({"triggers": {"schedule": "every night"}}, r"'every night' is not a cron expression"),
        ({"guards": {"cooldown": "6 hours"}}, r"cooldown is a number and a unit"),
        ({"guards": {"min_rows": 0}}, r"guards\.min_rows: Input should be greater than or equal to 1"),
        ({"window": "0s"}, r"window lasts at least 1s"),
        ({"data": {"source": "s3"}}, r"data: Input tag 's3' found using 'source' does not match"),
        ({"then": "promote"}, r'a rollout plan is given but then = "promote" never starts a rollout'),
        ({"rollout": {"stratgy": "canary"}}, r"strategy"),
        ({"then": "deploy", "rollout": {}}, r"then: Input should be 'rollout', 'promote' or 'register'"),
    ],
)
def test_each_mistake_is_named(change: dict[str, object], message: str) -> None:
    section = {
        "spec": "spec.toml",
        "data": {"source": "log"},
        "rollout": {"steps": [50, 100]},
        **change,
    }
    with pytest.raises(InvalidInput, match=r"invalid retraining policy \[retraining\.fraud\]") as refused:
        policy_from_dict("fraud", section)
    assert refused.match(message)


def test_a_policy_needs_a_spec_and_data() -> None:
    with pytest.raises(InvalidInput, match=r"spec: Field required; data: Field required"):
        policy_from_dict("fraud", {})


def test_a_model_without_a_policy_names_the_closest_that_has_one(tmp_path: Path) -> None:
    home = workspace(tmp_path, POLICY)
    with pytest.raises(NotFound, match=r"retraining policy for model 'frud' not found.*did you mean 'fraud'"):
        load_policy(load_settings(home), "frud")


def test_a_file_broken_since_the_settings_were_read_says_so(tmp_path: Path) -> None:
    settings = load_settings(workspace(tmp_path, POLICY))
    workspace(tmp_path, "[retraining.fraud\nspec = 1")
    with pytest.raises(InvalidInput, match="shipyard.toml is not valid TOML"):
        load_policy(settings, "fraud")
