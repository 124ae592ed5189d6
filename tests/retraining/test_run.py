"""Whole retraining runs on a real registry (SQLite and PostgreSQL) with real training: fresh data, the
champion's contract, a challenger trained on it, the gate against the champion, then a rollout; and each
way a run stops before production is touched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from shipyard import Registry, rollouts
from shipyard.retraining import RetrainPolicy, policy_from_dict
from shipyard.retraining.service import run_retraining
from shipyard.store.retrain_runs import RetrainRunRepository
from shipyard.training.trainer import train
from tests.alerts.conftest import hook_channel
from tests.models import transactions
from tests.receivers import WebhookReceiver
from tests.retraining.workspace import NOW, SPEC, spec_toml, stamped


@pytest.fixture
def champion(registry: Registry) -> Registry:
    """fraud/1 at fraud@production, trained on labels that carry no signal; the workspace's spec file."""
    history = transactions(seed=0)
    history["fraud"] = np.random.default_rng(9).permutation(history["fraud"].to_numpy())
    registry.datasets.add("history", stamped(history))
    result = train(SPEC, registry=registry, progress=False)
    assert result.version is not None
    registry.set_alias("fraud", "production", result.version.version)
    (registry.settings.home / "spec.toml").write_text(spec_toml(SPEC), encoding="utf-8")
    return registry


def policy(**changes: object) -> RetrainPolicy:
    section: dict[str, Any] = {
        "spec": "spec.toml",
        "window": "30d",
        "data": {"source": "dataset", "name": "fresh", "time_column": "ts"},
        "rollout": {"strategy": "canary", "steps": [20, 100], "interval": "10m"},
        "guards": {"min_rows": 100, "cooldown": "1h"},
        **changes,
    }
    return policy_from_dict("fraud", section)


def test_a_run_trains_on_fresh_data_gates_and_starts_a_rollout(champion: Registry) -> None:
    champion.datasets.add("fresh", stamped(transactions(seed=1)))
    run = run_retraining(champion, policy(), trigger="alert", detail={"rule": "fraud-drift"}, now=NOW)
    assert run.state == "succeeded", run.reason
    assert (run.step, run.trigger, run.trigger_detail) == ("rollout", "alert", {"rule": "fraud-drift"})
    assert run.details["candidate"] == "fraud/2" and run.details["rows"] == 600
    assert run.details["dataset"] == "fraud-retrain/1" and run.details["gate"]["passed"] is True
    (rollout,) = rollouts.status(champion, "fraud")
    assert (rollout.id, rollout.candidate, rollout.state) == (run.details["rollout"], 2, "running")
    assert champion.resolve("fraud@production").version == 1  # the rollout moves it, step by step
    training = champion.resolve("fraud/2").training or {}
    assert training["report"]["datasets"]["data"] == "fraud-retrain/1"  # its lineage
    again = run_retraining(champion, policy(), now=NOW + timedelta(minutes=5))
    assert again.state == "skipped" and "cooldown" in again.reason


def test_fresh_data_that_breaks_the_contract_trains_nothing(champion: Registry) -> None:
    champion.datasets.add("fresh", stamped(transactions(seed=1)).drop(columns=["channel"]))
    run = run_retraining(champion, policy(), now=NOW)
    assert (run.state, run.step) == ("failed", "data")
    assert "data failed: the fresh data has no column(s) channel that fraud/1 takes" in run.reason
    assert [version.version for version in champion.list_versions("fraud")] == [1]


def test_too_few_fresh_rows_stop_the_run(champion: Registry) -> None:
    champion.datasets.add("fresh", stamped(transactions(seed=1)))
    run = run_retraining(champion, policy(window="1d"), now=NOW)
    assert (run.state, run.step) == ("failed", "data")
    assert "holds 60 fresh rows; the policy needs at least 100 (guards.min_rows)" in run.reason


def test_a_challenger_that_loses_its_gate_leaves_production_alone(champion: Registry) -> None:
    champion.datasets.add("fresh", stamped(transactions(seed=1)))
    gates = '[gates.fraud.production]\nmetrics = { roc_auc = ">= 0.99" }\n'  # more than it can reach
    (champion.settings.home / "shipyard.toml").write_text(gates, encoding="utf-8")
    run = run_retraining(champion, policy(), now=NOW)
    assert (run.state, run.step) == ("failed", "gate")
    assert "gate failed: fraud/2" in run.reason and run.details["gate"]["passed"] is False
    assert champion.resolve("fraud@production").version == 1 and rollouts.history(champion, "fraud") == []


def test_a_trainer_that_raises_fails_the_run_and_the_next_trigger_runs(champion: Registry) -> None:
    champion.datasets.add("fresh", stamped(transactions(seed=1)))
    broken = {**SPEC, "estimator": {**SPEC["estimator"], "params": {"max_iter": -5}}}
    (champion.settings.home / "spec.toml").write_text(spec_toml(broken), encoding="utf-8")
    run = run_retraining(champion, policy(guards={"cooldown": "0s", "min_rows": 100}), now=NOW)
    assert (run.state, run.step) == ("failed", "train") and "max_iter" in run.reason
    (champion.settings.home / "spec.toml").write_text(spec_toml(SPEC), encoding="utf-8")
    registered = policy(guards={"cooldown": "0s"}, then="register", rollout={})
    retried = run_retraining(champion, registered, now=NOW)
    assert (retried.state, retried.step) == ("succeeded", "register"), retried.reason


KILLED_RUN = """
import os, signal
from shipyard import Registry
from shipyard.store.retrain_runs import RetrainRunRepository
with Registry() as registry:
    runs = RetrainRunRepository(registry.db, "retrainer")
    runs.begin("fraud", "schedule", owner={"host": os.uname().nodename, "pid": os.getpid()})
    os.kill(os.getpid(), signal.SIGKILL)  # killed mid-run: its row still says running
"""


def test_a_run_whose_process_was_killed_is_ended_and_the_next_trigger_runs(champion: Registry) -> None:
    champion.datasets.add("fresh", stamped(transactions(seed=1)))
    settings = champion.settings
    environment = {
        **os.environ,
        "SHIPYARD_HOME": str(settings.home),
        "SHIPYARD_REGISTRY_URL": settings.registry_url,
        "SHIPYARD_ARTIFACTS_URL": settings.artifacts_url,
    }
    killed = subprocess.run([sys.executable, "-c", KILLED_RUN], env=environment, check=False, timeout=120)
    assert killed.returncode == -signal.SIGKILL
    (abandoned,) = RetrainRunRepository(champion.db, "tester").history("fraud")
    assert abandoned.state == "running"
    run = run_retraining(champion, policy(then="register", rollout={}), now=NOW)
    assert run.state == "succeeded", run.reason
    ended = RetrainRunRepository(champion.db, "tester").get(abandoned.id)
    assert ended.state == "interrupted" and ended.reason.startswith("interrupted at step start: its process")


def test_a_failed_run_tells_the_alert_channels_why(champion: Registry, webhook: WebhookReceiver) -> None:
    (champion.settings.home / "shipyard.toml").write_text(hook_channel(webhook), encoding="utf-8")
    champion.datasets.add("fresh", stamped(transactions(seed=1)).drop(columns=["channel"]))
    run = run_retraining(champion, policy(), trigger="alert", now=NOW)
    (sent,) = [json.loads(item.body) for item in webhook.received]
    summary, facts = sent["summary"], sent["alert"]
    assert sent["status"] == "firing" and f"retraining run {run.id} of fraud (alert) failed" in summary
    assert "no column(s) channel" in summary and "production is unchanged" in summary
    assert (facts["rule"], facts["step"], facts["run"]) == ("retraining", "data", run.id)
