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
        """``(model, version)`` of every model this process serves now."""
        return tuple(
            (name, served.current.version.version)
            for name, served in self.engine.models.items()
            if served.current is not None
        )
