"""Scheduled jobs: shipyard commands on cron schedules, kept in the metadata database.

add_schedule(registry, "nightly-fraud", "0 2 * * *", ["score", "fraud@production", "-i", "data/",
             "-o", "preds/{date}"])
Scheduler(registry).run()          # what `shipyard scheduler` (or `shipyard serve --scheduler`) does
schedule_history(registry, "nightly-fraud")
"""

from shipyard.scheduling.scheduler import Scheduler, start_scheduler_process
from shipyard.scheduling.schedules import (
    MISSED_POLICIES,
    Schedule,
    add_schedule,
    get_schedule,
    list_schedules,
    remove_schedule,
    schedule_history,
    set_enabled,
)

__all__ = [
    "MISSED_POLICIES",
    "Schedule",
    "Scheduler",
    "add_schedule",
    "get_schedule",
    "list_schedules",
    "remove_schedule",
    "schedule_history",
    "set_enabled",
    "start_scheduler_process",
]
