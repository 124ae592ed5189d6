"""The rollout runner: the rollout controller on a timer, as a sidecar beside ``shipyard serve`` or on its
own (``shipyard rollout run``).

Every ``interval_seconds`` it calls ``rollouts.advance`` once: every running rollout whose step has run its
interval is analysed and moved on, promoted, aborted or failed (see ``rollouts.controller``). It keeps no
state of its own — the step's start and every analysis live in the metadata database — so a restarted
runner resumes where the last one was, and runners beside several servers never take one step twice.
``shipyard serve`` starts it in its own process, like the monitoring runner, so reading the prediction log
never takes CPU time from a request's event loop.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.process import BaseProcess

from shipyard.config import Settings
from shipyard.predictions import PredictionLog
from shipyard.registry import Registry
from shipyard.rollouts import Transition, advance
from shipyard.sidecars import run_every, start_runner

log = logging.getLogger("shipyard.rollouts")


@dataclass(frozen=True)
class RolloutRunnerConfig:
    #: Seconds between two passes of the controller.
    interval_seconds: float = 5.0


class RolloutRunner:
    def __init__(self, settings: Settings, config: RolloutRunnerConfig | None = None) -> None:
        self.settings = settings
        self.config = config or RolloutRunnerConfig()

    def run_once(self, now: datetime | None = None) -> list[Transition]:
        """One pass of the controller over every active rollout; what it did, each logged."""
        with Registry(self.settings) as registry:
            done = advance(registry, PredictionLog(self.settings.log_url), now)
        for transition in done:
            log.info(
                "rollout %s of %s@%s: %s (%s, step %d, candidate share %.0f%%): %s",
                transition.rollout_id,
                transition.model,
                transition.alias,
                transition.action,
                transition.state,
                transition.step_index + 1,
                transition.candidate_share * 100,
                transition.reason,
            )
        return done

    def run(self, stop: threading.Event | None = None, *, parent: int | None = None) -> None:
        """Pass every ``interval_seconds`` until ``stop`` is set, or until the process ``parent`` is gone."""
        run_every(
            self.run_once,
            self.config.interval_seconds,
            stop or threading.Event(),
            parent=parent,
            name="rollout",
        )


def start_rollout_process(settings: Settings, config: RolloutRunnerConfig) -> BaseProcess:
    """The runner in a daemon process of its own (it ends with the server that started it)."""
    return start_runner(RolloutRunner, settings, config, name="shipyard-rollouts")
