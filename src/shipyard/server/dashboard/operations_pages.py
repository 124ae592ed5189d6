"""The dashboard's operations sections: alerts and their silences, rollouts and their steps, batch,
scheduled and retraining runs, and the audit trail.

Each page reads the services the management API reads (``server.control.operations_routes``), in one
query per list, newest first and capped at ``LIMIT`` rows (the page says so when it is cut). Silencing an
alert and pausing, resuming or aborting a rollout need an operator; finishing a rollout now moves an
alias, so it needs an admin, as in the API. Every form carries the page's CSRF token.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shipyard import rollouts
from shipyard.access import Role
from shipyard.alerts import alert_history, current_alerts, silence, silences, unsilence
from shipyard.batch.history import batch_runs
from shipyard.durations import duration_label, parse_duration
from shipyard.errors import Conflict, InvalidInput
from shipyard.registry import Registry
from shipyard.scheduling.schedules import list_schedules, schedule_history
from shipyard.server.control.identity import Reader, caller, needs
from shipyard.server.dashboard.pages import page
from shipyard.store.retrain_runs import RetrainRunRepository
from shipyard.store.rollouts import RolloutRepository

router = APIRouter(include_in_schema=False)
Operator = Annotated[Registry, Depends(needs(Role.OPERATOR, "silencing an alert or steering a rollout"))]
Admin = Annotated[Registry, Depends(needs(Role.ADMIN, "finishing a rollout now"))]
#: Rows a list shows at most, newest first.
LIMIT = 100
#: Characters of an audit event's before/after shown in its row.
_CHANGE_CHARS = 160
#: A rollout plan's keys that are durations in seconds.
_PLAN_DURATIONS = frozenset({"interval", "hold", "max_wait"})


# -- alerts --------------------------------------------------------------------------------------------------
@router.get("/alerts")
def alerts_page(
    request: Request, registry: Reader, done: str = "", rule: str = "", model: str = ""
) -> HTMLResponse:
    """What is pending or firing now, what happened lately, and what is silenced; ``rule`` and ``model``
    fill in the silence form (each alert's "Silence…" link sets them)."""
    current = current_alerts(registry)
    return page(
        request,
        "alerts.html",
        active="Alerts",
        current=current[:LIMIT],
        current_total=len(current),
        history=alert_history(registry, last=LIMIT),
        silences=silences(registry),
        limit=LIMIT,
        done=done,
        prefill={"rule": rule, "model": model},
    )


@router.post("/alerts/silences")
def add_silence(
    registry: Operator,
    rule: Annotated[str, Form()] = "",
    model: Annotated[str, Form()] = "",
    duration: Annotated[str, Form()] = "1h",
    comment: Annotated[str, Form()] = "",
) -> Response:
    matchers = {key: value.strip() for key, value in (("rule", rule), ("model", model)) if value.strip()}
    if not matchers:
        raise InvalidInput("a silence needs a rule or a model to match: fill in at least one of them")
    now = datetime.now(UTC)
    length = parse_duration(duration, what="duration", minimum=timedelta(minutes=1))
    made = silence(registry, matchers, now, now + length, comment=comment)
    return _back(
        "/alerts",
        f"Silence {made.id} holds back {_matched(matchers)} until {made.ends_at:%Y-%m-%d %H:%M} UTC",
    )


@router.post("/alerts/silences/{silence_id}/end")
def end_silence(silence_id: int, registry: Operator) -> Response:
    unsilence(registry, silence_id)
    return _back("/alerts", f"Silence {silence_id} ended")


def _matched(matchers: dict[str, str]) -> str:
    return " and ".join(f"{key} {value}" for key, value in matchers.items())


# -- rollouts ------------------------------------------------------------------------------------------------
@router.get("/rollouts")
def rollouts_page(request: Request, registry: Reader) -> HTMLResponse:
    """The active rollouts, then the newest ones (one query each: no steps are read for the list)."""
    recent = RolloutRepository(registry.db, registry.actor).history(limit=LIMIT)
    return page(
        request,
        "rollouts.html",
        active="Rollouts",
        running=rollouts.status(registry),
        recent=recent,
        limit=LIMIT,
    )


@router.get("/rollouts/{rollout_id}")
def rollout_page(request: Request, rollout_id: int, registry: Reader, done: str = "") -> HTMLResponse:
    """One rollout: its plan, every step with its analyses, the A/B verdict, and its controls."""
    rollout = rollouts.get(registry, rollout_id)
    verdict = rollout.ab_verdict
    return page(
        request,
        "rollout.html",
        active="Rollouts",
        rollout=rollout,
        plan=_plan_rows(rollout.plan.to_dict()),
        verdict=None if verdict is None else verdict.to_dict(),
        can_admin=caller(request).can(Role.ADMIN),
        done=done,
    )


@router.post("/rollouts/{rollout_id}/promote")
def promote_rollout(rollout_id: int, registry: Admin, reason: Annotated[str, Form()] = "") -> Response:
    current = _active_rollout(registry, rollout_id)
    done = rollouts.promote(registry, current.model, alias=current.alias, reason=reason)
    return _back(
        f"/rollouts/{rollout_id}", f"Promoted: {done.model}@{done.alias} now holds v{done.candidate}"
    )


@router.post("/rollouts/{rollout_id}/{change}")
def change_rollout(
    rollout_id: int,
    change: Literal["pause", "resume", "abort"],
    registry: Operator,
    reason: Annotated[str, Form()] = "",
) -> Response:
    current = _active_rollout(registry, rollout_id)
    act = {"pause": rollouts.pause, "resume": rollouts.resume, "abort": rollouts.abort}[change]
    done = act(registry, current.model, alias=current.alias, reason=reason or f"{change}d from the dashboard")
    return _back(f"/rollouts/{rollout_id}", f"Rollout {rollout_id} is {done.state}")


def _active_rollout(registry: Registry, rollout_id: int) -> rollouts.Rollout:
    """The rollout, refused unless it still routes traffic (the service acts on a model's active one)."""
    found = rollouts.get(registry, rollout_id)
    if not found.active:
        raise Conflict(f"rollout {rollout_id} is {found.state} already; reload its page to see how it ended")
    return found


def _plan_rows(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """A plan's keys in words: durations with their unit, steps as shares, each check's terms."""
    rows = []
    for key, value in sorted(plan.items()):
        if key in _PLAN_DURATIONS and isinstance(value, int | float):
            text = duration_label(timedelta(seconds=value))
        elif key == "steps":
            text = " → ".join(f"{share:g}%" for share in value)
        elif key == "checks":
            text = "; ".join(_check_terms(name, terms) for name, terms in sorted(value.items()))
        else:
            text = str(value)
        rows.append((key.replace("_", " "), text))
    return rows


def _check_terms(name: str, terms: dict[str, Any]) -> str:
    if terms.get("enabled") is False:
        return f"{name} off"
    spelled = ", ".join(f"{key.replace('_', ' ')} {_number(value)}" for key, value in sorted(terms.items()))
    return f"{name} ({spelled})"


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


# -- batch, schedules, retraining ----------------------------------------------------------------------------
@router.get("/batch")
def batch_page(request: Request, registry: Reader) -> HTMLResponse:
    """Batch scoring runs, the schedules with their next and recent runs, and retraining runs."""
    now = datetime.now(UTC)
    schedules = list_schedules(registry)
    retraining = RetrainRunRepository(registry.db, registry.actor).history(limit=LIMIT)
    return page(
        request,
        "batch.html",
        active="Batch",
        runs=batch_runs(registry, last=LIMIT),
        schedules=[schedule.to_dict(now) for schedule in schedules[:LIMIT]],
        schedules_total=len(schedules),
        occurrences=schedule_history(registry, last=LIMIT),
        retraining=[run.to_dict() for run in retraining],
        limit=LIMIT,
    )


# -- audit ---------------------------------------------------------------------------------------------------
@router.get("/audit")
def audit_page(request: Request, registry: Reader, model: str = "", action: str = "") -> HTMLResponse:
    """The newest audit events, of one model and an action prefix when the form asks."""
    model, action = model.strip(), action.strip()
    events = registry.audit(model=model or None, action=action or None, limit=LIMIT)
    rows = [
        {**event.to_dict(), "at": event.at, "change": _change(event.before, event.after)}
        for event in reversed(events)
    ]
    return page(request, "audit.html", active="Audit", events=rows, model=model, action=action, limit=LIMIT)


def _change(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """An event's before and after, as short JSON text."""
    parts = [f"{name}: {_json(value)}" for name, value in (("before", before), ("after", after)) if value]
    text = "; ".join(parts)
    return text if len(text) <= _CHANGE_CHARS else text[: _CHANGE_CHARS - 1] + "…"


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def _back(path: str, done: str) -> RedirectResponse:
    """Back to ``path`` after a change, with a line saying what was done."""
    return RedirectResponse(f"{path}?done={quote(done)}", status_code=303)
