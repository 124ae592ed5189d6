"""What every route of one server process shares: its configuration, registry, engine and recorder.

Built once by ``create_app`` and kept on ``app.state.server``; routes read it from the request. Nothing here
decides behaviour: the services it holds do.
"""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.config import Settings
from shipyard.predictions import PredictionLog
from shipyard.registry import Registry
from shipyard.server.config import ServeConfig
from shipyard.serving.engine import Engine
from shipyard.serving.recorder import PredictionRecorder


@dataclass
class ServerState:
    config: ServeConfig
    settings: Settings
    registry: Registry
    engine: Engine
    prediction_log: PredictionLog
    recorder: PredictionRecorder
    #: Set when shutdown begins: readiness answers 503 so a load balancer stops sending traffic.
    draining: bool = False

    @property
    def ready(self) -> bool:
        return self.engine.ready and not self.draining

    def served_versions(self) -> tuple[tuple[str, int], ...]:
        """``(model, version)`` of every version this process serves now: each model's stable version, and
        the candidate of a rollout beside it."""
        return tuple(
            (name, slot.version.version)
            for name, served in self.engine.models.items()
            for slot in (served.current, served.candidate)
            if slot is not None
        )

    def arm_of(self, model: str, version: int) -> str:
        """The arm ``version`` of ``model`` answers as now: the candidate of a rollout ``canary`` or
        ``shadow``, any other version ``stable``."""
        served = self.engine.models.get(model)
        if served is None or served.candidate is None or served.candidate.version.version != version:
            return "stable"
        return served.candidate_arm or "stable"
