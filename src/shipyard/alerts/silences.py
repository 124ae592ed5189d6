"""Silences: hold back the notifications and actions of matching alerts for a while (their states still
move), as during a planned migration or while an incident is being handled."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shipyard.alerts.rules import Rule
from shipyard.errors import InvalidInput, NotFound
from shipyard.registry import Registry
from shipyard.store.alerts import AlertRepository, Silence

#: What a silence may match on; labels match the rule's labels.
SILENCE_KEYS = ("rule", "model", "version", "column", "severity", "labels")


def silence(
    registry: Registry,
    matchers: dict[str, Any],
    starts_at: datetime,
    ends_at: datetime,
    *,
    comment: str = "",
) -> Silence:
    """Hold back the notifications and actions of every alert matching all ``matchers`` until ``ends_at``."""
    unknown = sorted(set(matchers) - set(SILENCE_KEYS))
    if unknown:
        raise InvalidInput(f"a silence matches on {', '.join(SILENCE_KEYS)}; not on {', '.join(unknown)}")
    if not matchers:
        raise InvalidInput("a silence needs at least one matcher (--rule, --model, --label …)")
    if ends_at <= starts_at:
        raise InvalidInput("a silence must end after it starts")
    return AlertRepository(registry.db).add_silence(
        matchers, starts_at, ends_at, created_by=registry.actor, comment=comment
    )


def unsilence(registry: Registry, silence_id: int, now: datetime | None = None) -> None:
    """End a silence now."""
    if not AlertRepository(registry.db).end_silence(silence_id, now or datetime.now(UTC)):
        raise NotFound(f"there is no silence {silence_id}; see 'shipyard alerts silences'")


def silences(
    registry: Registry, *, now: datetime | None = None, include_ended: bool = False
) -> list[dict[str, Any]]:
    """The silences in force at ``now`` (with ``include_ended``, every one), oldest first."""
    found = AlertRepository(registry.db).silences(now or datetime.now(UTC), include_ended=include_ended)
    return [entry.to_dict() for entry in found]


def matching_silence(
    silences: list[Silence], rule: Rule, model: str, version: int, column: str
) -> int | None:
    """The id of the first silence matching this alert, or None."""
    facts: dict[str, Any] = {
        "rule": rule.name,
        "model": model,
        "version": version,
        "column": column,
        "severity": rule.severity,
    }
    for candidate in silences:
        matchers = dict(candidate.matchers)
        labels = matchers.pop("labels", {}) or {}
        if all(facts.get(key) == value for key, value in matchers.items()) and all(
            rule.labels.get(key) == value for key, value in labels.items()
        ):
            return candidate.id
    return None
