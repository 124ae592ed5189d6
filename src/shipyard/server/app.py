"""The ASGI application: three protocols over one engine, plus feedback, health, metrics, OpenAPI and the
API page.

``create_app`` only assembles: the shared state (registry, engine, recorder), the routes each module
declares from its codec's paths, the lifespan, the one failure handler and, with a token, bearer auth.
"""

from __future__ import annotations

import functools

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect

from shipyard.config import load_settings
from shipyard.errors import ShipyardError
from shipyard.flavors._process import own_process
from shipyard.predictions import PredictionLog
from shipyard.registry import Registry
from shipyard.rollouts import active_split
from shipyard.server import api_page, feedback, inference, metadata, metrics, operations
from shipyard.server.access_log import configure_logging
from shipyard.server.auth import BearerTokenMiddleware
from shipyard.server.config import ServeConfig
from shipyard.server.failures import handle_failure
from shipyard.server.lifespan import lifespan_of
from shipyard.server.state import ServerState
from shipyard.serving.engine import Engine
from shipyard.serving.prediction_log import PredictionSink
from shipyard.serving.recorder import PredictionRecorder


def create_app(config: ServeConfig | None = None, *, sink: PredictionSink | None = None) -> Starlette:
    """The server for ``config`` (default: the one ``shipyard.serve`` put in the environment); every answered
    prediction goes to ``sink`` (default: the workspace's prediction log, unless ``log_predictions`` is off).
    """
    config = config or ServeConfig.from_environment()
    own_process()  # a server worker: nothing but shipyard loads model files here
    configure_logging()
    server = _server_state(config, sink)
    app = Starlette(
        routes=[
            *inference.ROUTES,
            *metadata.ROUTES,
            *feedback.ROUTES,
            *operations.ROUTES,
            *api_page.ROUTES,
        ],
        lifespan=lifespan_of(server, own_log=sink is None and config.log_predictions),
        # One handler for ShipyardError and its subclasses (found along the error's MRO), one for a client
        # that hung up (handled here, so not re-raised and logged as a crash), one for the rest.
        exception_handlers={
            ShipyardError: handle_failure,
            ClientDisconnect: handle_failure,
            Exception: handle_failure,
        },
    )
    if config.api_token:
        app.add_middleware(BearerTokenMiddleware, token=config.api_token)
    app.state.server = server
    return app


def _server_state(config: ServeConfig, sink: PredictionSink | None) -> ServerState:
    settings = load_settings(
        config.home, registry_url=config.registry_url, artifacts_url=config.artifacts_url
    )
    registry = Registry(settings)
    engine = Engine(
        registry,
        config.references,
        max_batch_rows=config.max_batch_rows,
        max_queue_rows=config.max_queue_rows,
        request_timeout=config.request_timeout,
        trust=config.trust,
        on_batch=metrics.record_batch,
        on_shadow=metrics.record_shadow,
        max_shadow_requests=config.max_shadow_requests,
        split_source=functools.partial(active_split, registry),
    )
    return ServerState(
        config=config,
        settings=settings,
        registry=registry,
        engine=engine,
        prediction_log=PredictionLog(settings.log_url),
        recorder=PredictionRecorder(engine, sink),
    )
