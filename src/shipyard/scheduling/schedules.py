"""Schedules: a shipyard command, a cron expression, a time zone and a policy for missed runs.

They live in the metadata database, so a restarted scheduler — or another machine's — finds them all.
Arguments may hold placeholders filled in for each occurrence: ``{date}`` (2026-11-26), ``{time}``
(0200), ``{schedule}`` — so a nightly job can write to ``preds/{date}``.

Missed runs (the scheduler was down, or busy with the previous occurrence) follow the schedule's policy:

* ``run_once`` (default): run the newest missed occurrence once; the older ones are recorded as missed;
* ``skip``: run only an occurrence that is on time (due less than a minute ago); record the others;
* ``run_all``: run every missed occurrence, oldest first.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from shipyard.errors import Conflict, InvalidInput, NotFound
from shipyard.refs import validate_name
from shipyard.registry import Registry
from shipyard.store.schedules import ScheduleRecord, ScheduleRepository

MISSED_POLICIES = ("run_once", "skip", "run_all")
#: Commands a schedule may not run: the long-running ones, and those that manage schedules.
NOT_SCHEDULABLE = frozenset({"serve", "scheduler", "schedule", "demo", "init"})
#: An occurrence due less than this long ago is on time.
ON_TIME = timedelta(minutes=1)
PLACEHOLDERS = ("date", "time", "schedule")


@dataclass(frozen=True)
class Schedule(ScheduleRecord):
    """A stored schedule, and the cron arithmetic that says when it runs."""

    @classmethod
    def of(cls, record: ScheduleRecord) -> Schedule:
        return cls(**{field.name: getattr(record, field.name) for field in fields(record)})

    def due(self, now: datetime) -> list[datetime]:
        """Occurrences after the last handled one, up to ``now`` (UTC), oldest first."""
        zone = ZoneInfo(self.timezone)
        moments = croniter(self.cron, self.handled_until.astimezone(zone))
        found: list[datetime] = []
        while True:
            moment = moments.get_next(datetime).astimezone(UTC)
            if moment > now:
                return found
            found.append(moment)
            if len(found) > 10_000:  # a schedule every minute, down for a week: enough to decide
                return found

    def next_run(self, now: datetime) -> datetime:
        start = max(self.handled_until, now)
        return (
            croniter(self.cron, start.astimezone(ZoneInfo(self.timezone))).get_next(datetime).astimezone(UTC)
        )

    def arguments_for(self, moment: datetime) -> list[str]:
        """The command's arguments for the occurrence at ``moment``, placeholders filled in."""
        local = moment.astimezone(ZoneInfo(self.timezone))
        values = {"date": f"{local:%Y-%m-%d}", "time": f"{local:%H%M}", "schedule": self.name}
        return [argument.format(**values) for argument in self.args]

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        return {
            "name": self.name,
            "cron": self.cron,
            "timezone": self.timezone,
            "command": list(self.args),
            "missed": self.missed,
            "enabled": self.enabled,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "next_run": self.next_run(now or datetime.now(UTC)).isoformat() if self.enabled else None,
        }


def add_schedule(
    registry: Registry,
    name: str,
    cron: str,
    args: list[str],
    *,
    timezone: str = "UTC",
    missed: str = "run_once",
    commands: set[str] | None = None,
    now: datetime | None = None,
) -> Schedule:
    """Store a schedule; it first runs at the first occurrence after now. ``commands``: the command names
    the CLI knows, to refuse a typo now rather than at two in the morning."""
    validate_name(name, "schedule")
    if not croniter.is_valid(cron):
        raise InvalidInput(
            f"{cron!r} is not a cron expression: five fields, minute hour day month weekday, e.g. '0 2 * * *'"
        )
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown time zone {timezone!r}; use a name such as UTC or Europe/Paris"
        ) from None
    if missed not in MISSED_POLICIES:
        raise InvalidInput(f"the missed-run policy is one of {', '.join(MISSED_POLICIES)}, got {missed!r}")
    _check_command(args, commands)
    created = now or datetime.now(UTC)
    schedule = Schedule(
        name=name,
        cron=cron,
        timezone=timezone,
        args=list(args),
        missed=missed,
        enabled=True,
        created_by=registry.actor,
        created_at=created,
        handled_until=created,
    )
    if not ScheduleRepository(registry.db).add(schedule):
        raise Conflict(f"a schedule named {name!r} exists; remove it first or pick another name")
    return get_schedule(registry, name)


def _check_command(args: list[str], commands: set[str] | None) -> None:
    if not args:
        raise InvalidInput(
            "a schedule needs a command after '--', e.g. -- score fraud@production -i data/ -o 'out/{date}'"
        )
    command = args[0]
    if commands is not None and command not in commands:
        raise InvalidInput(f"{command!r} is not a shipyard command; commands: {', '.join(sorted(commands))}")
    if command in NOT_SCHEDULABLE:
        raise InvalidInput(
            f"'shipyard {command}' cannot be scheduled: it runs until stopped, or manages schedules"
        )
    for argument in args:
        try:
            argument.format(**dict.fromkeys(PLACEHOLDERS, ""))
        except (KeyError, IndexError, ValueError):
            raise InvalidInput(
                f"argument {argument!r} has an unknown placeholder; placeholders: "
                + ", ".join("{" + name + "}" for name in PLACEHOLDERS)
            ) from None


def get_schedule(registry: Registry, name: str) -> Schedule:
    record = ScheduleRepository(registry.db).get(name)
    if record is None:
        raise NotFound(f"there is no schedule {name!r}; 'shipyard schedule list' shows them")
    return Schedule.of(record)


def list_schedules(registry: Registry) -> list[Schedule]:
    return [Schedule.of(record) for record in ScheduleRepository(registry.db).all()]


def remove_schedule(registry: Registry, name: str) -> None:
    if not ScheduleRepository(registry.db).remove(name):
        raise NotFound(f"there is no schedule {name!r}")


def set_enabled(registry: Registry, name: str, enabled: bool, now: datetime | None = None) -> None:
    """Pause or resume; a resumed schedule starts from now (what fell due while paused is not run)."""
    if not ScheduleRepository(registry.db).set_enabled(name, enabled, now or datetime.now(UTC)):
        raise NotFound(f"there is no schedule {name!r}")


def schedule_history(registry: Registry, name: str | None = None, last: int = 20) -> list[dict[str, Any]]:
    """Occurrences, newest first: status, rows, duration, exit code."""
    return [run.to_dict() for run in ScheduleRepository(registry.db).history(name, last)]
