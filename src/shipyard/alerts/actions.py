"""What a firing alert may do besides notifying: roll an alias back, or start a retraining job.

A rollback moves the alias back only while it still points at the version the alert is about (someone or
something may have moved it meanwhile), through ``Registry.rollback``, so the registry's audit log records
it with the alert as its reason. A retraining job runs ``shipyard train SPEC`` in a process of its own,
writing to ``<workspace>/jobs/``; the retraining issue builds on this hook. Each outcome — done, skipped
(cooldown, alias moved) or failed — is recorded with the alert event that caused it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from shipyard.alerts.rules import ActionConfig, Rule
from shipyard.errors import ShipyardError
from shipyard.refs import ModelRef
from shipyard.registry import Registry

JOBS_FOLDER = "jobs"


@dataclass(frozen=True)
class ActionOutcome:
    action: str
    status: str  # done, skipped, failed
    detail: str


def run_action(
    registry: Registry, action: ActionConfig, rule: Rule, model: str, version: int, reason: str, now: datetime
) -> ActionOutcome:
    try:
        if action.type == "rollback":
            return _rollback(registry, action, rule, model, version, reason)
        return _retrain(registry, action, model, reason, now)
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
    registry: Registry, action: ActionConfig, model: str, reason: str, now: datetime
) -> ActionOutcome:
    home = registry.settings.home
    spec = Path(action.spec or "")
    spec = spec if spec.is_absolute() else home / spec
    if not spec.is_file():
        return ActionOutcome("retrain", "failed", f"the training spec {str(spec)!r} does not exist")
    folder = home / JOBS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    output = folder / f"retrain-{model}-{now:%Y%m%dT%H%M%S}.log"
    command = [sys.executable, "-m", "shipyard", "train", str(spec), "--reason", reason]
    with open(output, "ab") as sink:
        process = subprocess.Popen(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "SHIPYARD_HOME": str(home)},
            start_new_session=True,  # the job outlives the runner that started it
        )
    return ActionOutcome(
        "retrain", "done", f"started process {process.pid}: shipyard train {spec.name} (output: {output})"
    )
