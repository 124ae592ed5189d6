"""How a server is configured: the models it serves and its limits, passed to every worker process.

``shipyard.serve`` (and so ``shipyard serve``) builds a ``ServeConfig`` and hands it to uvicorn's workers
through one environment variable (JSON), because workers are fresh processes that import the app by name.
The bearer token never travels that way (a process's environment is readable by its user's other processes
and copied into every child): the variable names a private file holding it (``api_token_file``), which each
worker reads when it builds its app.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from shipyard.errors import ConfigurationError

ENV_VARIABLE = "SHIPYARD_SERVE_CONFIG"
#: Where the token is read from when neither ``token`` nor ``token_file`` is given (the second is the older
#: name); both are removed from the environment the workers inherit.
TOKEN_VARIABLES = ("SHIPYARD_SERVE_TOKEN", "SHIPYARD_API_TOKEN")


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
    #: How often each worker reads its models' rollouts: an abort must reach every worker within a second.
    rollout_refresh_seconds: float = 0.25
    #: Require ``Authorization: Bearer <api_token>``; never put in the environment (see ``api_token_file``).
    api_token: str | None = field(default=None, repr=False)
    #: A file holding the token, read by each worker: how ``shipyard serve`` hands its workers the token.
    api_token_file: str | None = None
    trust: bool = False
    #: Write every answered prediction to the workspace's prediction log (``log_url``).
    log_predictions: bool = True
    #: During a shadow rollout, copies of requests on their way to the candidate at most, per model and
    #: worker; past it copies are dropped (``shipyard_shadow_requests_total{outcome="dropped"}``).
    max_shadow_requests: int = 64
    #: The window length the monitoring runner computes (and ``/metrics`` reports), in seconds.
    monitor_window_seconds: int = 3600
    extra: dict[str, str] = field(default_factory=dict)

    def to_environment(self) -> str:
        """This configuration as the JSON of ``ENV_VARIABLE``; a token must be given as ``api_token_file``."""
        if self.api_token is not None:
            raise ConfigurationError(
                "a server token cannot be passed to workers in their environment; write it to a private file "
                "and set api_token_file"
            )
        return json.dumps(asdict(self))

    @classmethod
    def from_environment(cls) -> ServeConfig:
        """The configuration ``shipyard.serve`` left for this worker, with the token read from its file."""
        raw = os.environ.get(ENV_VARIABLE)
        if not raw:
            raise ConfigurationError(
                f"{ENV_VARIABLE} is not set; start the server with 'shipyard serve' or shipyard.serve()"
            )
        config = cls(**json.loads(raw))
        if config.api_token_file is not None:
            config = replace(config, api_token=read_token_file(config.api_token_file))
        return config


def read_token_file(path: str | os.PathLike[str]) -> str:
    """The token in the file at ``path``, without the whitespace around it (a trailing newline, say)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"the token file {str(path)!r} is missing; write the token to it") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"cannot read the token file {str(path)!r}: {error}") from None
    token = text.strip()
    if not token:
        raise ConfigurationError(f"the token file {str(path)!r} is empty; write the token to it")
    if len(token.split()) > 1:
        raise ConfigurationError(f"the token file {str(path)!r} must hold one token, without spaces or lines")
    return token
