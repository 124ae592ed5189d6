"""``RemoteOperations``: what runs production (rollouts, alerts and silences, retraining runs) over the
control plane's management API, one method per route.

Rollouts and retraining runs come back as the records the local services return (``Rollout``,
``RetrainRunRecord``), rebuilt from the server's JSON, so the CLI prints them with the same code; alerts
and silences are the plain dicts the local functions give.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from shipyard.client.transport import ApiClient
from shipyard.rollouts import Rollout, RolloutPlan
from shipyard.store.retrain_runs import RetrainRunRecord
from shipyard.store.rollouts import RolloutStep

RolloutChange = Literal["pause", "resume", "abort", "promote"]


class RemoteOperations(ApiClient):
    """The rollouts, alerts and retraining runs of the workspace a ``shipyard server`` at ``url`` serves."""

    # -- rollouts --------------------------------------------------------------------------------------
    def rollout_status(self, model: str | None = None, *, alias: str | None = None) -> list[Rollout]:
        """The active rollouts (running or paused), as ``rollouts.status``."""
        params: dict[str, Any] = {"active": True, **({"model": model} if model else {})}
        found = [rollout_from_dict(item) for item in self._call("GET", "/rollouts", params=params)]
        return [rollout for rollout in found if alias is None or rollout.alias == alias]

    def rollout_history(self, model: str | None = None, *, limit: int = 20) -> list[Rollout]:
        """Rollouts newest first with their steps and analyses, as ``rollouts.history``."""
        params: dict[str, Any] = {"limit": limit, **({"model": model} if model else {})}
        return [rollout_from_dict(item) for item in self._call("GET", "/rollouts", params=params)]

    def change_rollout(self, change: RolloutChange, model: str, *, alias: str, reason: str = "") -> Rollout:
        """Pause, resume, abort or promote the rollout of ``model@alias``."""
        path = f"/models/{model}/aliases/{alias}/rollout/{change}"
        return rollout_from_dict(self._call("POST", path, json={"reason": reason}))

    # -- alerts and silences ---------------------------------------------------------------------------
    def current_alerts(self, *, include_inactive: bool = False) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = self._call("GET", "/alerts", params={"all": include_inactive})
        return alerts

    def alert_history(
        self, *, rule: str | None = None, model: str | None = None, last: int = 50
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"last": last}
        params.update({key: value for key, value in (("rule", rule), ("model", model)) if value})
        events: list[dict[str, Any]] = self._call("GET", "/alerts/history", params=params)
        return events

    def silences(self, *, include_ended: bool = False) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", "/alerts/silences", params={"ended": include_ended})
        return found

    def silence(self, matchers: dict[str, Any], duration: str, *, comment: str = "") -> dict[str, Any]:
        """Silence matching alerts for ``duration`` (``2h``) from now, the server's now."""
        body = {"matchers": matchers, "duration": duration, "comment": comment}
        created: dict[str, Any] = self._call("POST", "/alerts/silences", json=body)
        return created

    def unsilence(self, silence_id: int) -> None:
        self._call("DELETE", f"/alerts/silences/{silence_id}")

    # -- retraining ------------------------------------------------------------------------------------
    def retrain_history(self, model: str | None = None, *, limit: int = 20) -> list[RetrainRunRecord]:
        params: dict[str, Any] = {"limit": limit, **({"model": model} if model else {})}
        return [retrain_run_from_dict(item) for item in self._call("GET", "/retrain-runs", params=params)]


def rollout_from_dict(data: dict[str, Any]) -> Rollout:
    """A ``Rollout`` from its ``to_dict()``."""
    steps = tuple(
        RolloutStep(
            step_index=step["step_index"],
            candidate_share=step["candidate_share"],
            at=datetime.fromisoformat(step["at"]),
            actor=step["actor"],
            analyses=tuple(step["analyses"]),
        )
        for step in data.get("steps", ())
    )
    return Rollout(
        id=data["id"],
        model=data["model"],
        alias=data["alias"],
        strategy=data["strategy"],
        stable=data["stable"],
        candidate=data["candidate"],
        state=data["state"],
        step_index=data["step_index"],
        candidate_share=data["candidate_share"],
        reason=data["reason"],
        plan=RolloutPlan.from_dict(data["plan"]),
        started_at=datetime.fromisoformat(data["started_at"]),
        started_by=data["started_by"],
        updated_at=datetime.fromisoformat(data["updated_at"]),
        ended_at=_time(data.get("ended_at")),
        steps=steps,
    )


def retrain_run_from_dict(data: dict[str, Any]) -> RetrainRunRecord:
    """A ``RetrainRunRecord`` from its ``to_dict()`` (which leaves out ``updated_at``: the last change
    known here is the end, or the start of a run still going)."""
    started, ended = datetime.fromisoformat(data["started_at"]), _time(data.get("ended_at"))
    return RetrainRunRecord(
        id=data["id"],
        model=data["model"],
        trigger=data["trigger"],
        trigger_detail=dict(data.get("trigger_detail") or {}),
        state=data["state"],
        step=data["step"],
        reason=data["reason"],
        details=dict(data.get("details") or {}),
        started_at=started,
        started_by=data["started_by"],
        updated_at=ended or started,
        ended_at=ended,
    )


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
