"""What a firing alert may do besides notifying: roll an alias back, or start a retraining job.

A rollback moves the alias back only while it still points at the version the alert is about (someone or
something may have moved it meanwhile), through ``Registry.rollback``, so the registry's audit log records
it with the alert as its reason. A retrain runs the model's retraining policy (``shipyard retrain run
MODEL --trigger alert``: fresh data, train, gate, roll out) in a process of its own, so the monitoring
runner goes on while it trains; the run store records the alert as its trigger, and a run the retraining
watcher already started for the same alert (its policy names the rule) is not started twice. A model
without a policy can still have a spec trained (``shipyard train SPEC``), its result only registered. Jobs
write to ``<workspace>/jobs/``. Each outcome — done, skipped (cooldown, alias moved, already running) or
failed — is recorded with the alert event that caused it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from shipyard.alerts.retrain_policies import declared_policies, retrain_fixes
from shipyard.alerts.rules import ActionConfig, Rule
from shipyard.config import CONFIG_FILE
from shipyard.errors import ShipyardError
from shipyard.refs import ModelRef
from shipyard.registry import Registry
from shipyard.store.retrain_runs import RetrainRunRecord, RetrainRunRepository

JOBS_FOLDER = "jobs"


@dataclass(frozen=True)
class ActionOutcome:
    action: str
    status: str  # done, skipped, failed
    detail: str


def run_action(
    registry: Registry,
    action: ActionConfig,
    rule: Rule,
    model: str,
    version: int,
    reason: str,
    now: datetime,
    event: int | None = None,
) -> ActionOutcome:
    """Do ``action`` for ``rule``'s alert ``event`` on ``model``/``version``; failures become outcomes."""
    try:
        if action.type == "rollback":
            return _rollback(registry, action, rule, model, version, reason)
        return _retrain(registry, action, rule, model, reason, now, event)
    except ShipyardError as error:
        return ActionOutcome(action.type, "failed", str(error))


def _rollback(
    registry: Registry, action: ActionConfig, rule: Rule, model: str, version: int, reason: str
) -> ActionOutcome:
    alias = action.alias or ModelRef.parse(rule.model).alias
    reference = f"{model}@{alias}"
    current = registry.resolve(reference)
    if current.version != version:
        return ActionOutcome(
            "rollback", "skipped", f"{reference} points at version {current.version} now, not {version}"
        )
    change = registry.rollback(reference, reason=reason)
    return ActionOutcome(
        "rollback", "done", f"{reference}: version {change.previous_version} → {change.version}"
    )


def _retrain(
    registry: Registry,
    action: ActionConfig,
    rule: Rule,
    model: str,
    reason: str,
    now: datetime,
    event: int | None,
) -> ActionOutcome:
    """The model's retraining policy when it declares one; else the action's spec, trained and registered."""
    if model in declared_policies(registry.settings):
        return _run_policy(registry, action, rule, model, now, event)
    if action.spec:
        return _train_spec(registry, action.spec, model, reason, now)
    return ActionOutcome(
        "retrain",
        "failed",
        f"{model} has no retraining policy and the action no spec: {retrain_fixes(model)}",
    )


def _run_policy(
    registry: Registry, action: ActionConfig, rule: Rule, model: str, now: datetime, event: int | None
) -> ActionOutcome:
    """``shipyard retrain run MODEL`` for this alert, in a process of its own: the run store records it with
    the alert as its trigger, and coalesces it with (or skips it after) a run already under way."""
    earlier = _run_for_event(registry, model, event)
    if earlier is not None:
        return ActionOutcome(
            "retrain",
            "skipped",
            f"retraining run {earlier.id} of {model} was started for this alert already ({earlier.state})",
        )
    command = ["retrain", "run", model, "--trigger", "alert", "--rule", rule.name]
    command += ["--event", str(event)] if event is not None else []
    pid, output = _start(registry, command, f"retrain-{model}-{now:%Y%m%dT%H%M%S}.log")
    unused = f"; the action's spec {action.spec} is not used: the policy names its own" if action.spec else ""
    return ActionOutcome(
        "retrain",
        "done",
        f"started process {pid}: shipyard {' '.join(command)}, which trains, gates and carries on as "
        f"[retraining.{model}] says; 'shipyard retrain history {model}' shows the run (output: {output})"
        + unused,
    )


def _run_for_event(registry: Registry, model: str, event: int | None) -> RetrainRunRecord | None:
    """A run already started for alert ``event`` (by the retraining watcher, whose policy names the rule)."""
    if event is None:
        return None
    for run in RetrainRunRepository(registry.db, registry.actor).history(model, limit=20):
        if run.trigger == "alert" and run.trigger_detail.get("event") == event:
            return run
    return None


def _train_spec(registry: Registry, spec_name: str, model: str, reason: str, now: datetime) -> ActionOutcome:
    """``shipyard train SPEC`` in a process of its own: the new version is registered, nothing more."""
    spec = Path(spec_name)
    spec = spec if spec.is_absolute() else registry.settings.home / spec
    if not spec.is_file():
        return ActionOutcome("retrain", "failed", f"the training spec {str(spec)!r} does not exist")
    command = ["train", str(spec), "--reason", reason]
    pid, output = _start(registry, command, f"retrain-{model}-{now:%Y%m%dT%H%M%S}.log")
    return ActionOutcome(
        "retrain",
        "done",
        f"started process {pid}: shipyard train {spec.name} (output: {output}); the new version is only "
        f"registered: add a [retraining.{model}] policy to {CONFIG_FILE} to gate it and roll it out",
    )


def _start(registry: Registry, arguments: list[str], log_name: str) -> tuple[int, Path]:
    """``shipyard ARGUMENTS`` in a new session writing to ``<workspace>/jobs/LOG_NAME``: the job outlives
    the runner that started it, and the runner goes on evaluating while it trains."""
    home = registry.settings.home
    folder = home / JOBS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    output = folder / log_name
    with open(output, "ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "shipyard", *arguments],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "SHIPYARD_HOME": str(home)},
            start_new_session=True,
        )
    return process.pid, output
