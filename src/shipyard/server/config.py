"""How a server is configured: the models it serves and its limits, passed to every worker process.

``shipyard.serve`` (and so ``shipyard serve``) builds a ``ServeConfig`` and hands it to uvicorn's workers
through one environment variable (JSON), because workers are fresh processes that import the app by name.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

from shipyard.errors import ConfigurationError

ENV_VARIABLE = "SHIPYARD_SERVE_CONFIG"


@dataclass(frozen=True)
class ServeConfig:
    references: list[str]
    home: str | None = None
    registry_url: str | None = None
    artifacts_url: str | None = None
    max_body_bytes: int = 10 * 1024 * 1024
    max_batch_rows: int = 512
    max_queue_rows: int = 20_000
    request_timeout: float = 10.0
    refresh_seconds: float = 1.0
    api_token: str | None = None
    trust: bool = False
    #: Write every answered prediction to the workspace's prediction log (``log_url``).
    log_predictions: bool = True
    #: The window length the monitoring runner computes (and ``/metrics`` reports), in seconds.
    monitor_window_seconds: int = 3600
    extra: dict[str, str] = field(default_factory=dict)

    def to_environment(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_environment(cls) -> ServeConfig:
        raw = os.environ.get(ENV_VARIABLE)
        if not raw:
            raise ConfigurationError(
                f"{ENV_VARIABLE} is not set; start the server with 'shipyard serve' or shipyard.serve()"
            )
        return cls(**json.loads(raw))
