"""Routes for whoever operates the server: health (MLflow's and shipyard's), version, Prometheus metrics
with the monitors' newest figures and open alerts, and the OpenAPI document."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shipyard._version import __version__
from shipyard.alerts import current_alerts
from shipyard.errors import Unavailable
from shipyard.monitoring.series import latest_points, window_label
from shipyard.server import metrics
from shipyard.server.calls import server_of, to_response
from shipyard.server.openapi import openapi_document
from shipyard.serving.codecs import mlflow as mlflow_codec
from shipyard.serving.engine import ServedModel

log = logging.getLogger("shipyard.serving")


async def ping(request: Request) -> Response:
    return to_response(mlflow_codec.ping_response(server_of(request).ready), "-")


async def version(request: Request) -> Response:
    return to_response(mlflow_codec.version_response(__version__), "-")


async def live(request: Request) -> Response:
    return JSONResponse({"live": True})


async def ready(request: Request) -> Response:
    server = server_of(request)
    payload = {
        "ready": server.ready,
        "models": {
            name: {
                "version": served.current.version.version if served.current else None,
                "error": served.last_error,
                "rollout": _rollout(served),
            }
            for name, served in server.engine.models.items()
        },
    }
    return JSONResponse(payload, status_code=200 if server.ready else 503)


def _rollout(served: ServedModel) -> dict[str, Any] | None:
    """The rollout this worker routes ``served`` by: its split and the arm its candidate answers as."""
    split, arm = served.split, served.candidate_arm
    if split is None or arm is None:
        return None
    return {**split.to_dict(), "arm": arm}


async def prometheus(request: Request) -> Response:
    """Request metrics of every worker, then the newest monitoring window and the open alerts, read from the
    database at scrape time so every worker reports the same. With the database out of reach the request
    metrics are still served, and ``shipyard_metadata_database_up`` says why the rest is missing."""
    server = server_of(request)
    body, content_type = metrics.exposition()
    window = timedelta(seconds=server.config.monitor_window_seconds)
    models = server.engine.models
    try:
        points, alerts = await asyncio.to_thread(
            lambda: (
                {name: latest_points(server.registry, name, window) for name in models},
                [alert for alert in current_alerts(server.registry) if alert["model"] in models],
            )
        )
    except Unavailable:
        log.warning("/metrics: the metadata database is out of reach; serving the request metrics only")
        return Response(body + metrics.database_down_exposition(), media_type=content_type)
    exposition = metrics.monitor_exposition(points, window_label(window), alerts, server.arm_of)
    return Response(body + exposition, media_type=content_type)


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document(list(server_of(request).engine.models), __version__))


ROUTES = [
    *(Route(path, ping, methods=["GET"]) for path in mlflow_codec.HEALTH_ROUTES),
    Route(mlflow_codec.VERSION_ROUTE, version, methods=["GET"]),
    Route("/health/live", live, methods=["GET"]),
    Route("/health/ready", ready, methods=["GET"]),
    Route("/metrics", prometheus, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
]
