"""Rollout plans from dicts, TOML and command-line values: defaults per strategy, and each mistake refused
with a message that says what to write instead."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipyard import InvalidInput
from shipyard.rollouts.plan import (
    DEFAULT_CHECKS,
    Check,
    RolloutPlan,
    RoutingKey,
    parse_seconds,
    parse_steps,
)

PLAN_TOML = """
[rollouts.fraud]
to = 5
alias = "production"
strategy = "canary"
steps = [5, 25, 50, 100]
interval = "10m"
min_requests = 200
routing_key = "header:X-Customer-Id"

[rollouts.fraud.checks.error_rate]
threshold = 0.02
failure_limit = 2

[rollouts.fraud.checks.prediction_drift]
enabled = false
"""


def test_a_plan_from_toml_reads_every_key_and_keeps_the_default_checks_it_does_not_change() -> None:
    section = tomllib.loads(PLAN_TOML)["rollouts"]["fraud"]
    plan = RolloutPlan.from_dict(section, model="fraud")
    assert (plan.model, plan.candidate, plan.alias, plan.strategy) == ("fraud", 5, "production", "canary")
    assert plan.steps == (5, 25, 50, 100) and plan.shares == (0.05, 0.25, 0.5, 1.0)
    assert (plan.interval, plan.max_wait, plan.min_requests) == (600.0, 1800.0, 200)
    assert plan.routing_key == RoutingKey("header", "X-Customer-Id")
    assert plan.check("error_rate") == Check("error_rate", 0.02, failure_limit=2)
    assert plan.check("latency_p99") == Check("latency_p99", 1.5)
    assert plan.check("prediction_drift") is None
    assert RolloutPlan.from_dict(plan.to_dict()) == plan  # stored and read back unchanged


def test_each_strategy_has_its_own_default_steps_and_checks() -> None:
    for strategy, steps in (
        ("canary", (5, 25, 50, 100)),
        ("shadow", (0,)),
        ("ab", (50,)),
        ("blue_green", (100,)),
    ):
        plan = RolloutPlan(model="fraud", candidate=2, strategy=strategy)  # type: ignore[arg-type]
        assert plan.steps == steps and plan.checks == DEFAULT_CHECKS[strategy]
    shadow = RolloutPlan(model="fraud", candidate=2, strategy="shadow")
    assert {check.name for check in shadow.checks} >= {"agreement", "score_difference"}


def test_command_line_spellings_are_read_like_toml() -> None:
    plan = RolloutPlan.from_dict(
        {
            "candidate": "7",
            "steps": "10, 50,100",
            "interval": "90s",
            "max_wait": 600,
            "routing_key": "column:cust",
        },
        model="fraud",
    )
    assert (plan.candidate, plan.steps, plan.interval, plan.max_wait) == (7, (10, 50, 100), 90.0, 600.0)
    assert plan.routing_key == RoutingKey("column", "cust") and str(plan.routing_key) == "column:cust"
    assert parse_steps(100) == (100,) and parse_seconds("1h", "interval") == 3600.0


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"stepz": [5, 100]}, "rollout plan has an unknown key 'stepz'; did you mean 'steps'?"),
        ({"strategy": "canery"}, "unknown strategy 'canery'; did you mean 'canary'?"),
        ({"steps": [5, 50, 25, 100]}, "canary steps must increase, like 5,25,50,100; got 5,50,25,100"),
        ({"steps": [5, 25, 50]}, "canary steps must end at 100 (the step that moves the alias); got 5,25,50"),
        ({"steps": [0, 100]}, "canary steps are percentages from 1 to 100, got 0,100"),
        ({"steps": "5,,100"}, "steps are percentages separated by commas, like 5,25,50,100; got '5,,100'"),
        ({"steps": "5,half,100"}, "steps are whole percentages, like 5,25,50,100; got 'half'"),
        ({"strategy": "ab", "steps": [100]}, "an A/B test holds one split: one step from 1 to 99"),
        ({"strategy": "ab", "steps": [10, 20]}, "an A/B test holds one split"),
        (
            {"strategy": "blue_green", "steps": [50, 100]},
            "blue_green switches all traffic at once: its only step is 100",
        ),
        (
            {"strategy": "shadow", "steps": [5]},
            "shadow returns no candidate answers: its only step is 0; got 5",
        ),
        ({"interval": "10 minutes"}, "interval is a number and a unit (s, m, h, d), like 30s, 15m, 1h or 1d"),
        ({"interval": "0s"}, "interval must be at least 1 seconds, got 0"),
        ({"interval": "10m", "max_wait": "5m"}, "max_wait must be at least 600 seconds, got 300"),
        ({"routing_key": "hedder:X-Id"}, "did you mean header:X-Id?"),
        (
            {"routing_key": "customer"},
            "routing key is header:<name> or column:<name>, like header:X-Customer-Id",
        ),
        ({"routing_key": "header:X Id"}, "routing key header 'X Id' is not a header name"),
        (
            {"checks": {"eror_rate": {"threshold": 1}}},
            "unknown check 'eror_rate'; did you mean 'error_rate'?",
        ),
        ({"checks": {"error_rate": {"treshold": 1}}}, "check 'error_rate' has an unknown key 'treshold'"),
        (
            {"checks": {"error_rate": {"failure_limit": 0}}},
            "failure_limit is how many analyses in a row may fail",
        ),
        ({"checks": {"error_rate": {"threshold": -1}}}, "threshold must be 0 or more, got -1"),
        (
            {"checks": {"agreement": {"threshold": 0.9}}},
            "only a shadow rollout has; a canary rollout cannot run it",
        ),
        (
            {"sample_size": 1000},
            "sample_size ends an A/B test; a canary rollout moves on after each interval",
        ),
        ({"to": 0}, "candidate version must be a whole number of at least 1, got 0"),
        ({"to": "latest"}, "candidate version must be a whole number, got 'latest'"),
        ({"to": 2, "candidate": 3}, "gives both 'to' and 'candidate'"),
        ({"alias": "v2"}, "alias 'v2' looks like a version number"),
        ({"wait_for_labels": "yes"}, "wait_for_labels is true or false"),
    ],
)
def test_a_bad_plan_is_refused_saying_what_to_write(keys: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        RolloutPlan.from_dict({"to": 2, **keys}, model="fraud", where="shipyard.toml [rollouts.fraud]")
    assert str(caught.value).startswith("shipyard.toml [rollouts.fraud]: ")
    assert message in str(caught.value)


def test_a_plan_without_a_model_or_candidate_says_what_is_missing() -> None:
    with pytest.raises(InvalidInput, match="rollout plan names no model"):
        RolloutPlan.from_dict({"to": 2})
    with pytest.raises(InvalidInput, match="names no candidate version; give to = <version>"):
        RolloutPlan.from_dict({}, model="fraud")
    with pytest.raises(InvalidInput, match="rollout plan is for model 'other', not 'fraud'"):
        RolloutPlan.from_dict({"model": "other", "to": 2}, model="fraud")


def test_an_ab_test_may_end_on_a_sample_size() -> None:
    plan = RolloutPlan.from_dict(
        {"to": 2, "strategy": "ab", "steps": [20], "sample_size": 5000}, model="fraud"
    )
    assert (plan.steps, plan.sample_size, plan.check("accuracy")) == ((20,), 5000, Check("accuracy", 0.02))


@given(
    st.lists(st.integers(min_value=1, max_value=99), min_size=0, max_size=6, unique=True).map(sorted),
    st.sampled_from(["10s", "5m", "1h", 30, 45.5]),
    st.none() | st.sampled_from(["header:X-Customer-Id", "column:customer"]),
)
def test_every_valid_canary_plan_survives_storage(
    steps: list[int], interval: object, key: str | None
) -> None:
    plan = RolloutPlan.from_dict(
        {"to": 3, "steps": [*steps, 100], "interval": interval, "routing_key": key}, model="fraud"
    )
    assert RolloutPlan.from_dict(plan.to_dict()) == plan
