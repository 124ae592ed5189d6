"""The retraining runner: every declared retraining policy's triggers, checked on a timer, each due
trigger run through its policy (``shipyard retrain watch``).

Every ``interval_seconds`` it reads the policies in shipyard.toml, asks ``retraining.triggers`` which
trigger of each model is due (its schedule came round, a named alert fired, enough labels arrived) and
runs it. It keeps no state of its own: what was acted on is in the run history, so a restarted runner
picks up where the last one was, and two runners on one database start one run per trigger (the second
is recorded as coalesced or skipped). A run trains in this process, so the runner is its own process,
never a server's.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.process import BaseProcess

from shipyard.config import Settings
from shipyard.predictions import PredictionLog
from shipyard.registry import Registry
from shipyard.retraining import load_policies
from shipyard.retraining.service import run_retraining
from shipyard.retraining.triggers import due, gather_signals
from shipyard.sidecars import run_every, start_runner
from shipyard.store.retrain_runs import RetrainRunRecord

log = logging.getLogger("shipyard.retraining")


@dataclass(frozen=True)
class RetrainRunnerConfig:
    #: Seconds between two looks at the triggers.
    interval_seconds: float = 60.0
    #: When watching began: triggers before it (a cron time, an alert, labels) are not acted on. A server
    #: sets it as it starts, before it serves, so labels sent while this process starts up still count.
    since: datetime | None = None


class RetrainRunner:
    def __init__(self, settings: Settings, config: RetrainRunnerConfig | None = None) -> None:
        self.settings = settings
        self.config = config or RetrainRunnerConfig()
        self.watching_since = self.config.since or (
            datetime.now(UTC) - timedelta(seconds=self.config.interval_seconds)
        )

    def run_once(self, now: datetime | None = None) -> list[RetrainRunRecord]:
        """One look at every policy's triggers; the runs started (or coalesced, or skipped), each logged."""
        at = now or datetime.now(UTC)
        done = []
        with Registry(self.settings) as registry:
            log_reader = PredictionLog(self.settings.log_url)
            for policy in load_policies(self.settings):
                trigger = due(policy, gather_signals(registry, policy, at, self.watching_since))
                if trigger is None:
                    continue
                kind, detail = trigger
                run = run_retraining(registry, policy, trigger=kind, detail=detail, log=log_reader, now=at)
                said = f"{run.state}: {run.reason}"
                log.info("retraining run %s of %s (%s): %s", run.id, run.model, kind, said)
                done.append(run)
        return done

    def run(self, stop: threading.Event | None = None, *, parent: int | None = None) -> None:
        """Look every ``interval_seconds`` until ``stop`` is set, or until the process ``parent`` is gone."""
        run_every(
            self.run_once,
            self.config.interval_seconds,
            stop or threading.Event(),
            parent=parent,
            name="retraining",
        )


def start_retrain_process(settings: Settings, config: RetrainRunnerConfig) -> BaseProcess:
    """The runner in a daemon process of its own (it ends with the server that started it); a run trains
    there, never in a worker."""
    return start_runner(RetrainRunner, settings, config, name="shipyard-retraining")
