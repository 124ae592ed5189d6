"""The monitoring runner: one sidecar process beside a server, however many workers it has.

Every ``interval`` seconds it computes, for every version of each served model that has logged
predictions, the window that just ended (its final figures) and the window in progress (refreshed until it
ends), stores them (``shipyard.monitoring``), evaluates the alert rules over them (``shipyard.alerts``; the
rules are read again each tick, so an edit to them needs no restart), and looks after the log: compaction
each tick (a finished hour is merged in a short-lived process), retention once an hour. ``shipyard serve``
runs it in its companion process (beside the rollout runner), so its reading and counting never take CPU
time from a request's event loop, and workers need not agree on who runs it.

It drives both monitoring and alerts, so it sits above both: alerts read monitoring's figures, and
monitoring knows nothing of alerts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.process import BaseProcess
from typing import Any

from shipyard._heap import release_free_memory
from shipyard.alerts import AlertEvaluator, AlertsConfig, load_alerts
from shipyard.config import Settings
from shipyard.errors import ShipyardError
from shipyard.monitoring.open_windows import OpenWindows
from shipyard.monitoring.series import logged_versions, run_monitors, window_start_of
from shipyard.monitoring.windows import WindowResult
from shipyard.predictions import PredictionLog, expire
from shipyard.predictions.maintenance import compact_finished_apart, compact_open, finished_before
from shipyard.predictions.segments import HOUR, Segment
from shipyard.registry import Registry
from shipyard.sidecars import run_every, start_runner

log = logging.getLogger("shipyard.monitoring")

RETENTION_EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class RunnerConfig:
    references: list[str]
    window_seconds: int = 3600
    interval_seconds: float = 60.0
    alerts: bool = True


class MonitorRunner:
    def __init__(self, settings: Settings, config: RunnerConfig) -> None:
        self.settings = settings
        self.config = config
        self._last_retention: datetime | None = None
        # Kept across ticks: its stores remember the footers of the files the log holds (segments.py).
        self._log = PredictionLog(settings.log_url)
        # Every finished hour ending by then is merged: later ticks list only the hours after it.
        self._merged_before: datetime | None = None
        self._alerts: AlertsConfig | None = None
        # The windows in progress, counted a new segment at a time: a refresh does not re-read the hour.
        self._open_windows: OpenWindows[Any] = OpenWindows()

    def run_once(self, now: datetime | None = None) -> list[WindowResult]:
        """One tick: the previous and the current window of every logged version, then log upkeep."""
        now = now or datetime.now(UTC)
        window = timedelta(seconds=self.config.window_seconds)
        since = window_start_of(now, window) - window  # the window that just ended, and the current one
        results: list[WindowResult] = []
        with Registry(self.settings) as registry:
            logged, kept = self._log, self._open_windows
            for reference in self.config.references:
                try:
                    versions = logged_versions(registry, logged, reference)
                    results += run_monitors(registry, logged, versions, since, now, window, None, kept)
                except ShipyardError as error:  # one model's trouble must not stop the others
                    log.warning("monitoring %s failed: %s", reference, error)
            kept.forget_before(since)
            if self.config.alerts:
                self._evaluate_alerts(registry, window, now)
            for store in logged.stores:
                # The windows still counted here merge only what they have counted (open_windows.py).
                counted = self._counted_or_before(since) if store is logged.store else None
                compact_open(store, now, counted)
                compact_finished_apart(store, now, counted, self._merged_before)  # apart (maintenance.py)
            # The finished hours ending by ``since`` had every segment mergeable just now: merged.
            self._merged_before = min(since, finished_before(now))
            if self.settings.log_retention_days > 0 and (
                self._last_retention is None or now - self._last_retention >= RETENTION_EVERY
            ):
                for store in logged.stores:
                    expire(store, self.settings.log_retention_days, now)
                self._last_retention = now
        release_free_memory()  # what the tick freed goes back to the system, not kept by malloc (_heap.py)
        return results

    def _counted_or_before(self, since: datetime) -> Callable[[Segment], bool]:
        """Segments compaction may merge: those of hours before ``since``, and those counted since."""
        kept = self._open_windows
        return lambda segment: segment.hour + HOUR <= since or kept.counted(segment)

    def _evaluate_alerts(self, registry: Registry, window: timedelta, now: datetime) -> None:
        try:
            self._alerts = load_alerts(self.settings, registry, self.config.references, window=window)
        except ShipyardError as error:  # a broken edit: keep alerting with the last rules that loaded
            log.error("the alert rules could not be loaded (%s); keeping the previous ones", error)
        if self._alerts is not None:
            AlertEvaluator(registry, self._alerts).evaluate(now)

    def run(self, stop: threading.Event | None = None, *, parent: int | None = None) -> None:
        """Tick every ``interval_seconds`` until ``stop`` is set, or until the process ``parent`` is gone
        (a server killed with SIGKILL cannot stop its runner: the runner notices it was orphaned)."""
        run_every(
            self.run_once,
            self.config.interval_seconds,
            stop or threading.Event(),
            parent=parent,
            name="monitoring",
        )


def start_runner_process(settings: Settings, config: RunnerConfig) -> BaseProcess:
    """The runner in a daemon process of its own (it ends with the server that started it)."""
    return start_runner(MonitorRunner, settings, config, name="shipyard-monitor")
