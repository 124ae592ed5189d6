"""Which of a policy's triggers are due: its cron schedule came round, an alert rule it names fired, or
enough labels arrived. ``due`` is the decision, a pure function of what the caller gathered, so it is
tested without a clock or a database; ``gather_signals`` reads those facts from the registry.

Every trigger is measured from the model's last run that did something (started, whatever became of it),
so a trigger is acted on once: a schedule fires once per cron time after the runner started watching, an
alert event once, and a batch of labels once. Triggers due together make one run (named by the first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from croniter import croniter

from shipyard.registry import Registry
from shipyard.retraining.policy import RetrainPolicy
from shipyard.store.alerts import AlertRepository
from shipyard.store.feedback import FeedbackRepository
from shipyard.store.retrain_runs import RetrainRunRepository

#: Runs that acted on their trigger: the ones that ran, and the ones that joined a running run.
_ACTED = ("running", "succeeded", "failed", "interrupted", "coalesced")


@dataclass(frozen=True)
class Signals:
    """What the triggers are judged on, gathered for one model at ``now``."""

    now: datetime
    since: datetime  # the last acted-on run's start, or when watching began
    fired: list[dict[str, Any]] = field(default_factory=list)  # alert events after ``since``
    new_labels: int = 0  # labels received after ``since``


def due(policy: RetrainPolicy, signals: Signals) -> tuple[str, dict[str, Any]] | None:
    """The trigger to run now and its detail, or None."""
    triggers = policy.triggers
    if triggers.schedule is not None:
        previous = croniter(triggers.schedule, signals.now).get_prev(datetime)
        if previous > signals.since:
            return "schedule", {"schedule": triggers.schedule, "at": previous.isoformat()}
    wanted = [event for event in signals.fired if event["rule"] in triggers.alerts]
    if wanted:
        first = min(wanted, key=lambda event: event["at"])
        return "alert", {"rule": first["rule"], "event": first["id"], "events": len(wanted)}
    if triggers.new_labels is not None and signals.new_labels >= triggers.new_labels:
        return "labels", {"new_labels": signals.new_labels, "threshold": triggers.new_labels}
    return None


def gather_signals(
    registry: Registry, policy: RetrainPolicy, now: datetime, watching_since: datetime
) -> Signals:
    """What ``due`` judges for ``policy``'s model, since its last acted-on run (or ``watching_since``)."""
    runs = RetrainRunRepository(registry.db, registry.actor).history(policy.model, limit=50)
    acted = [run.started_at for run in runs if run.state in _ACTED]
    since = max([watching_since, *acted])
    fired = [
        {"id": event.id, "rule": event.rule, "at": event.at}
        for event in AlertRepository(registry.db).history(model=policy.model, last=100)
        if event.kind == "firing" and event.at > since and event.rule in policy.triggers.alerts
    ]
    labels = FeedbackRepository(registry.db).count_received(policy.model, since)
    return Signals(now=now, since=since, fired=fired, new_labels=labels)
