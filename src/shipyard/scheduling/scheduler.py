"""The scheduler: every few seconds, run the schedules' occurrences that fell due.

Each occurrence is claimed before it runs, by inserting its row into ``schedule_runs`` — unique per
schedule and time — in the same transaction that moves the schedule's ``handled_until`` on. Two schedulers
(on two machines, or one beside each server) therefore never run an occurrence twice. The command runs as
``python -m shipyard <args>`` in a process of its own, its output in ``<workspace>/jobs/``; a batch
``score`` gets a run id derived from the schedule and the occurrence, so its counts are found in the batch
history, and an occurrence interrupted by a crash is resumed (not restarted) when a scheduler starts again.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from pathlib import Path

import psutil

from shipyard.config import Settings
from shipyard.registry import Registry
from shipyard.scheduling.schedules import ON_TIME, Schedule, list_schedules
from shipyard.sidecars import parent_gone, start_runner
from shipyard.store.schedules import RunningOccurrence, ScheduleRepository

log = logging.getLogger("shipyard.scheduling")

JOBS_FOLDER = "jobs"


@dataclass(frozen=True)
class Occurrence:
    schedule: Schedule
    moment: datetime
    run_id: int


class Scheduler:
    """Runs due occurrences of the workspace's schedules; ``tick`` is one pass, ``run`` loops."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.host = socket.gethostname()
        self._store = ScheduleRepository(registry.db)
        self._running: dict[str, threading.Thread] = {}

    def tick(self, now: datetime | None = None, *, wait: bool = False) -> list[Occurrence]:
        """Claim and start what is due at ``now``; with ``wait``, return once they have finished."""
        now = now or datetime.now(UTC)
        started: list[Occurrence] = []
        for schedule in list_schedules(self.registry):
            if not schedule.enabled or self._busy(schedule.name):
                continue  # a schedule whose previous occurrence still runs waits for it
            occurrences = self._claim(schedule, now)
            if occurrences:
                thread = threading.Thread(
                    target=self._run_all, args=(occurrences,), name=f"schedule-{schedule.name}", daemon=True
                )
                self._running[schedule.name] = thread
                thread.start()
                started += occurrences
        if wait:
            self.join()
        return started

    def join(self) -> None:
        for thread in list(self._running.values()):
            thread.join()

    def recover(self) -> list[Occurrence]:
        """Occurrences left running by a scheduler that died on this host: a batch ``score`` is resumed
        (with its run id it continues where it stopped); anything else is marked interrupted."""

        def settle(running: RunningOccurrence) -> tuple[str, str] | None:
            if running.pid is not None and psutil.pid_exists(running.pid):
                return None  # still running (its scheduler lives on, or the process outlived it)
            if running.args is not None and running.args[:1] == ["score"]:
                return "resumed", "the scheduler stopped mid-run; resumed"
            return "interrupted", "the scheduler stopped while it ran"

        settled = self._store.settle_running(self.host, settle)
        schedules = {schedule.name: schedule for schedule in list_schedules(self.registry)}
        occurrences = [
            Occurrence(schedules[running.schedule], running.scheduled_for, running.run_id)
            for running, status in settled
            if status == "resumed" and running.schedule in schedules
        ]
        for occurrence in occurrences:
            self._run_all([occurrence])
        return occurrences

    def run(
        self, stop: threading.Event | None = None, *, interval: float = 5.0, parent: int | None = None
    ) -> None:
        """Tick every ``interval`` seconds until ``stop`` is set (or the process ``parent`` is gone)."""
        stop = stop or threading.Event()
        self.recover()
        while not stop.is_set():
            if parent_gone(parent):
                return
            try:
                self.tick()
            except Exception:  # a database hiccup: the next tick tries again
                log.exception("the scheduler's tick failed; retrying")
            stop.wait(interval)

    # -- internals -----------------------------------------------------------------------------------------
    def _busy(self, name: str) -> bool:
        thread = self._running.get(name)
        return thread is not None and thread.is_alive()

    def _claim(self, schedule: Schedule, now: datetime) -> list[Occurrence]:
        due = schedule.due(now)
        if not due:
            return []
        if schedule.missed == "run_all":
            chosen = due
        elif schedule.missed == "skip":
            chosen = [due[-1]] if now - due[-1] <= ON_TIME else []
        else:
            chosen = [due[-1]]

        claimed = self._store.claim_occurrences(
            schedule.name, due, chosen, host=self.host, missed_detail=f"missed (policy {schedule.missed})"
        )
        return [Occurrence(schedule, moment, run_id) for moment, run_id in claimed.items()]

    def _run_all(self, occurrences: list[Occurrence]) -> None:
        for occurrence in occurrences:
            try:
                self._run(occurrence)
            except Exception as error:  # record it, and let the schedule's next occurrence run
                log.exception("schedule %s failed to run", occurrence.schedule.name)
                self._finish(occurrence.run_id, "failed", None, None, f"{type(error).__name__}: {error}")

    def _run(self, occurrence: Occurrence) -> None:
        schedule, moment = occurrence.schedule, occurrence.moment
        args = schedule.arguments_for(moment)
        batch_run = None
        if args[:1] == ["score"]:
            if "--run-id" in args:
                batch_run = args[args.index("--run-id") + 1]
            else:
                batch_run = f"{schedule.name}-{moment:%Y%m%dT%H%M}"
                args = [*args, "--run-id", batch_run]
        home = self.registry.settings.home
        folder = home / JOBS_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        output = folder / f"schedule-{schedule.name}-{moment:%Y%m%dT%H%M}.log"
        started = datetime.now(UTC)
        with open(output, "ab") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "shipyard", *args],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**os.environ, "SHIPYARD_HOME": str(home)},
            )
            self._started(occurrence.run_id, started, process.pid, output, batch_run)
            code = process.wait()
        status = "succeeded" if code == 0 else "failed"
        detail = "" if code == 0 else _last_line(output)
        self._finish(occurrence.run_id, status, code, batch_run, detail)
        log.info("schedule %s (%s): %s, exit %d", schedule.name, moment.isoformat(), status, code)

    def _started(self, run_id: int, at: datetime, pid: int, output: Path, batch_run: str | None) -> None:
        self._store.mark_started(run_id, at=at, pid=pid, log_path=str(output), batch_run=batch_run)

    def _finish(self, run_id: int, status: str, code: int | None, batch_run: str | None, detail: str) -> None:
        self._store.finish(
            run_id, status=status, exit_code=code, batch_run=batch_run, detail=detail, at=datetime.now(UTC)
        )


@dataclass(frozen=True)
class SchedulerConfig:
    #: Seconds between two looks at the schedules.
    interval_seconds: float = 5.0


class SchedulerRunner:
    """The scheduler as a runner (``shipyard.sidecars.Runner``): beside a server, in its companion."""

    def __init__(self, settings: Settings, config: SchedulerConfig | None = None) -> None:
        self.settings = settings
        self.config = config or SchedulerConfig()

    def run(self, stop: threading.Event | None = None, *, parent: int | None = None) -> None:
        with Registry(self.settings) as registry:
            Scheduler(registry).run(stop, interval=self.config.interval_seconds, parent=parent)


def start_scheduler_process(settings: Settings, interval: float = 5.0) -> BaseProcess:
    """The scheduler in a daemon process beside a server (it stops when the server is gone)."""
    return start_runner(SchedulerRunner, settings, SchedulerConfig(interval), name="shipyard-scheduler")


def _last_line(path: Path) -> str:
    try:
        lines = [
            line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()
        ]
    except OSError:
        return ""
    return lines[-1][:500] if lines else ""
