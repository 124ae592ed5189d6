"""Rollouts, monitors, alerts, schedules, batch runs and retraining runs over HTTP: what runs production,
one thin route per service call.

Reading needs any role. Pausing, resuming or aborting a rollout and silencing an alert need an operator
(the hands-on-the-pager role); starting a rollout or finishing one early moves an alias, so it needs an
admin, as promoting does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from shipyard import rollouts
from shipyard.access import Role
from shipyard.alerts import alert_history, current_alerts, silence, silences, unsilence
from shipyard.batch.history import batch_runs
from shipyard.durations import parse_duration
from shipyard.monitoring.series import stored_windows
from shipyard.registry import Registry
from shipyard.scheduling.schedules import list_schedules, schedule_history
from shipyard.server.control.identity import Reader, needs
from shipyard.store.retrain_runs import RetrainRunRepository

router = APIRouter(prefix="/api/v1", tags=["operations"])
Operator = Annotated[Registry, Depends(needs(Role.OPERATOR, "changing a rollout or an alert"))]
Admin = Annotated[Registry, Depends(needs(Role.ADMIN, "starting or promoting a rollout"))]
Window = Annotated[str, Query(description="the monitors' window length, e.g. '1h' or '5m'")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Reason(_Body):
    reason: str = ""


class SilenceRequest(_Body):
    matchers: dict[str, Any] = Field(description="rule, model, version, column, severity or labels")
    duration: str = Field("1h", description="how long, e.g. '2h'")
    comment: str = ""


# -- rollouts ------------------------------------------------------------------------------------------------
@router.get("/rollouts", summary="Rollouts, newest first (active ones with active=true)")
def list_rollouts(
    registry: Reader, model: str | None = None, active: bool = False, limit: Annotated[int, Query(ge=1)] = 20
) -> list[dict[str, Any]]:
    found = rollouts.status(registry, model) if active else rollouts.history(registry, model, limit=limit)
    return [rollout.to_dict() for rollout in found]


@router.get("/rollouts/{rollout_id}", summary="One rollout with its steps and analyses")
def get_rollout(rollout_id: int, registry: Reader) -> dict[str, Any]:
    return rollouts.get(registry, rollout_id).to_dict()


@router.post("/rollouts", summary="Start a rollout from a plan (the keys of 'shipyard rollout start')")
def start_rollout(
    registry: Admin,
    plan: Annotated[dict[str, Any], Body(description="model, to, strategy, steps, interval, checks, …")],
) -> dict[str, Any]:
    reason = str(plan.pop("reason", ""))
    return rollouts.start(registry, plan, reason=reason).to_dict()


@router.post("/models/{name}/aliases/{alias}/rollout/promote", summary="Finish the alias's rollout now")
def promote_rollout(name: str, alias: str, body: Reason, registry: Admin) -> dict[str, Any]:
    return rollouts.promote(registry, name, alias=alias, reason=body.reason).to_dict()


@router.post(
    "/models/{name}/aliases/{alias}/rollout/{change}", summary="Pause, resume or abort the alias's rollout"
)
def change_rollout(
    name: str, alias: str, change: Literal["pause", "resume", "abort"], body: Reason, registry: Operator
) -> dict[str, Any]:
    act = {"pause": rollouts.pause, "resume": rollouts.resume, "abort": rollouts.abort}[change]
    return act(registry, name, alias=alias, reason=body.reason).to_dict()


# -- monitors ------------------------------------------------------------------------------------------------
@router.get("/models/{name}/monitors", summary="Stored monitor windows of a model, oldest first")
def monitors(
    name: str,
    registry: Reader,
    window: Window = "1h",
    version: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    last: Annotated[int | None, Query(ge=1)] = None,
) -> list[dict[str, Any]]:
    length = parse_duration(window, what="window", minimum=timedelta(seconds=1))
    found = stored_windows(registry, name, length, version=version, start=start, end=end, last=last)
    return [{"version": w.version, "start": w.start, "end": w.end, **w.report} for w in found]


# -- alerts --------------------------------------------------------------------------------------------------
@router.get("/alerts", summary="Alerts that are pending or firing (all=true: every alert evaluated)")
def alerts(registry: Reader, everything: Annotated[bool, Query(alias="all")] = False) -> list[dict[str, Any]]:
    return current_alerts(registry, include_inactive=everything)


@router.get("/alerts/history", summary="Alert events, newest first, with deliveries and actions")
def alerts_history(
    registry: Reader,
    rule: str | None = None,
    model: str | None = None,
    last: Annotated[int, Query(ge=1)] = 50,
) -> list[dict[str, Any]]:
    return alert_history(registry, rule=rule, model=model, last=last)


@router.get("/alerts/silences", summary="Silences in force (ended=true: every one)")
def list_silences(registry: Reader, ended: bool = False) -> list[dict[str, Any]]:
    return silences(registry, include_ended=ended)


@router.post("/alerts/silences", summary="Silence matching alerts for a while")
def add_silence(body: SilenceRequest, registry: Operator) -> dict[str, Any]:
    now = datetime.now(UTC)
    length = parse_duration(body.duration, what="duration", minimum=timedelta(seconds=1))
    return silence(registry, body.matchers, now, now + length, comment=body.comment).to_dict()


@router.delete("/alerts/silences/{silence_id}", summary="End a silence now", status_code=204)
def end_silence(silence_id: int, registry: Operator) -> None:
    unsilence(registry, silence_id)


# -- schedules, batch runs, retraining runs ------------------------------------------------------------------
@router.get("/schedules", summary="Every schedule with its next run")
def schedules(registry: Reader) -> list[dict[str, Any]]:
    return [schedule.to_dict() for schedule in list_schedules(registry)]


@router.get("/schedules/runs", summary="Runs of the schedules, newest first")
def schedule_runs(
    registry: Reader, name: str | None = None, last: Annotated[int, Query(ge=1)] = 20
) -> list[dict[str, Any]]:
    return schedule_history(registry, name, last)


@router.get("/batch-runs", summary="Batch scoring runs, newest first")
def list_batch_runs(
    registry: Reader, model: str | None = None, last: Annotated[int, Query(ge=1)] = 20
) -> list[dict[str, Any]]:
    return batch_runs(registry, model=model, last=last)


@router.get("/retrain-runs", summary="Retraining runs, newest first")
def retrain_runs(
    registry: Reader, model: str | None = None, limit: Annotated[int, Query(ge=1)] = 20
) -> list[dict[str, Any]]:
    runs = RetrainRunRepository(registry.db, registry.actor).history(model, limit=limit)
    return [run.to_dict() for run in runs]
