"""A retraining run, step by step: gather the fresh data, check it against the champion's contract, train
the challenger on it, gate it against the champion on the challenger's fresh hold-out, then roll it out,
promote it or only register it, as the policy says.

Each trigger is recorded first (``store.retrain_runs``): a model has one run at a time, a trigger arriving
meanwhile is coalesced into it, and one within the cooldown is skipped. A run whose process was killed
(or, on another machine, that has recorded no step for a day) is ended as interrupted by the next
trigger, so it never blocks the runs after it. Each step is recorded as the run reaches it, with what it
produced (the dataset version, the candidate version, the gate report, the
rollout). A step that fails ends the run as failed, naming the step and the reason, and the workspace's
alert channels are told; production is only touched by the last step, so a failed run leaves it as it
was.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import psutil

from shipyard.alerts import Notification, notify
from shipyard.contracts import Contract
from shipyard.errors import InvalidInput, ShipyardError
from shipyard.gates.runner import check_gate, promote
from shipyard.predictions import PredictionLog
from shipyard.registry import ModelVersion, Registry
from shipyard.retraining.fresh_data import FreshData, fresh_data
from shipyard.retraining.policy import RetrainPolicy
from shipyard.rollouts import start as start_rollout
from shipyard.store.retrain_runs import RetrainRunRecord, RetrainRunRepository
from shipyard.training.spec import TrainSpec
from shipyard.training.trainer import train

log = logging.getLogger("shipyard.retraining")
#: At most this share of the fresh rows may break the champion's contract; more, and the feed is broken.
MAX_INVALID_SHARE = 0.01
#: A running run on another machine with no step recorded for this long is taken for lost.
SILENT_FOR = timedelta(hours=24)


@dataclass
class _Run:
    """What the steps of one run hand on to each other."""

    registry: Registry
    policy: RetrainPolicy
    record: RetrainRunRecord
    runs: RetrainRunRepository
    champion: ModelVersion | None = None
    fresh: FreshData | None = None
    candidate: ModelVersion | None = None

    def reached(self, step: str, **details: Any) -> None:
        self.record = self.runs.step(self.record.id, step, details)


def run_retraining(
    registry: Registry,
    policy: RetrainPolicy,
    *,
    trigger: str = "manual",
    detail: dict[str, Any] | None = None,
    log: PredictionLog | None = None,
    now: datetime | None = None,
) -> RetrainRunRecord:
    """Run ``policy`` once for ``trigger``; the run as recorded (succeeded, failed, skipped or coalesced)."""
    at = now or datetime.now(UTC)
    runs = RetrainRunRepository(registry.db, registry.actor)
    record = runs.begin(
        policy.model,
        trigger,
        detail=detail,
        cooldown=policy.guards.cooldown,
        now=at,
        owner={"host": socket.gethostname(), "pid": os.getpid()},
        gone=partial(_gone, now=at),
    )
    if record.state != "running":
        return record
    run = _Run(registry, policy, record, runs)
    steps: list[tuple[str, Callable[[], str]]] = [
        ("data", lambda: _gather(run, log or PredictionLog(registry.settings.log_url), at)),
        ("train", lambda: _train(run)),
        ("gate", lambda: _gate(run)),
        (policy.then, lambda: _then(run)),
    ]
    outcome = ""
    for step, work in steps:
        run.reached(step)
        try:
            outcome = work()
        except ShipyardError as error:
            return _failed(registry, runs.finish(record.id, "failed", f"{step} failed: {error}"))
        except Exception as error:  # the trainer's or a library's own error: the run must still end
            why = f"{step} failed: {type(error).__name__}: {error}"
            return _failed(registry, runs.finish(record.id, "failed", why))
    return runs.finish(record.id, "succeeded", outcome)


def _failed(registry: Registry, run: RetrainRunRecord) -> RetrainRunRecord:
    """Tell the workspace's alert channels why a run failed; a broken channel setup is only logged."""
    summary = (
        f"retraining run {run.id} of {run.model} ({run.trigger}) failed: {run.reason}; "
        "production is unchanged"
    )
    facts = {
        "rule": "retraining",
        "model": run.model,
        "run": run.id,
        "trigger": run.trigger,
        "step": run.step,
        "severity": "warning",
        "details": {key: value for key, value in run.details.items() if key != "owner"},
        "sent_at": datetime.now(UTC).isoformat(),
    }
    try:
        notify(registry, Notification("firing", summary, facts))
    except ShipyardError as error:  # e.g. an [alerts] table that does not parse: the run's record stands
        log.error("retraining run %s failed, but its notification could not be sent: %s", run.id, error)
    return run


def _gone(run: RetrainRunRecord, *, now: datetime) -> str | None:
    """Why ``run``'s process is gone (killed on this machine, or silent too long elsewhere), or None."""
    owner = run.details.get("owner") or {}
    if owner.get("host") == socket.gethostname() and isinstance(owner.get("pid"), int):
        pid = owner["pid"]
        try:
            started = datetime.fromtimestamp(psutil.Process(pid).create_time(), UTC)
        except psutil.NoSuchProcess:
            return f"its process {pid} on {owner['host']} is gone"
        if started > run.started_at:  # the number was given to a newer process
            return f"its process {pid} on {owner['host']} is gone"
        return None
    if now - run.updated_at > SILENT_FOR:
        return f"no step recorded since {run.updated_at:%Y-%m-%d %H:%M:%S} UTC"
    return None


def _gather(run: _Run, log: PredictionLog, now: datetime) -> str:
    """The fresh data, stored, then checked: enough rows, and the champion's contract holds for them."""
    policy = run.policy
    run.champion = run.registry.resolve(f"{policy.model}@{policy.alias}")
    run.fresh = fresh_data(run.registry, policy, log, now)
    frame = run.registry.datasets.load(run.fresh.dataset)
    run.reached("data", dataset=run.fresh.dataset.ref, rows=len(frame))
    if len(frame) < policy.guards.min_rows:
        raise InvalidInput(
            f"{run.fresh.dataset.ref} holds {len(frame)} fresh rows; the policy needs at least "
            f"{policy.guards.min_rows} (guards.min_rows)"
        )
    if run.champion.input_schema:
        invalid = _broken_rows(Contract.from_dict(run.champion.input_schema), frame, run.champion.ref)
        run.reached("data", invalid_rows=invalid)
    return f"{len(frame)} fresh rows in {run.fresh.dataset.ref}"


def _broken_rows(contract: Contract, frame: Any, champion: str) -> int:
    """How many rows break ``contract``; InvalidInput when a column is missing or too many rows break it."""
    missing = [column.name for column in contract.columns if column.name not in frame.columns]
    if missing:
        raise InvalidInput(f"the fresh data has no column(s) {', '.join(missing)} that {champion} takes")
    result = contract.validate(frame[[column.name for column in contract.columns]], mode="split")
    invalid = len(frame) - len(result.valid)
    if invalid > MAX_INVALID_SHARE * len(frame):
        shown = "; ".join(f"row {p.row}, {p.column!r}: {p.problem}" for p in result.problem_list()[:3])
        raise InvalidInput(
            f"{invalid} of {len(frame)} fresh rows break {champion}'s data contract (at most "
            f"{MAX_INVALID_SHARE:.0%} may): {shown}; no model was trained on them"
        )
    return invalid


def _train(run: _Run) -> str:
    """The challenger: the policy's training spec, its data replaced by the fresh dataset version."""
    assert run.fresh is not None
    spec = TrainSpec.load(run.policy.spec_path(run.registry.settings.home))
    if spec.model != run.policy.model:
        raise InvalidInput(
            f"the training spec {run.policy.spec} trains {spec.model!r}, not {run.policy.model!r}"
        )
    data = spec.data.model_copy(
        update={
            "dataset": run.fresh.dataset.ref,
            "path": None,
            "exclude": sorted({*spec.data.exclude, *run.fresh.exclude}),
        }
    )
    place = run.policy.training
    result = train(
        spec.model_copy(update={"data": data}),
        registry=run.registry,
        progress=False,
        reason=f"retraining run {run.record.id} ({run.record.trigger})",
        on=place.on,
        ray_address=place.address,
    )
    assert result.version is not None
    run.candidate = result.version
    run.reached(
        "train", candidate=result.version.ref, metrics=dict(result.version.metrics), ran_on=result.ran_on
    )
    return f"trained {result.version.ref}"


def _gate(run: _Run) -> str:
    """The challenger against the champion on the challenger's own fresh hold-out."""
    assert run.candidate is not None
    report = check_gate(run.registry, run.candidate.ref, run.policy.alias)
    run.reached("gate", gate={"passed": report.passed, "summary": report.summary()})
    if not report.passed:
        raise InvalidInput(report.summary())
    return report.summary()


def _then(run: _Run) -> str:
    """What the policy does with a challenger that passed: a rollout, a promotion, or nothing more."""
    assert run.candidate is not None
    policy, candidate = run.policy, run.candidate
    reason = f"retraining run {run.record.id}: {candidate.ref} passed its gate"
    if policy.then == "rollout":
        rollout = start_rollout(run.registry, policy.rollout_plan(candidate.version), reason=reason)
        run.reached("rollout", rollout=rollout.id)
        return f"{candidate.ref} passed its gate; rollout {rollout.id} ({rollout.strategy}) started"
    if policy.then == "promote":
        promote(run.registry, candidate.ref, policy.alias, reason=reason)
        return f"{candidate.ref} passed its gate and now holds {policy.model}@{policy.alias}"
    return f"{candidate.ref} passed its gate; registered for a person to promote"
