"""The control-plane application: the management API's routers over one registry, one error shape, and
the OpenAPI description FastAPI derives from the routes themselves (so it cannot drift from them)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shipyard._version import __version__
from shipyard.config import Settings
from shipyard.errors import ShipyardError, Unauthenticated
from shipyard.registry import Registry
from shipyard.server.control import access_routes, operations_routes, registry_routes


def create_control_app(settings: Settings, *, auth: bool) -> FastAPI:
    """The control plane of the workspace ``settings`` names; ``auth`` off makes every caller the
    workspace's own user with the admin role (for a server on loopback only)."""
    registry = Registry(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            registry.close()

    app = FastAPI(
        title="shipyard control plane",
        version=__version__,
        description="Models, versions, aliases, rollouts, monitors, alerts and audit of one workspace.",
        docs_url=None,  # FastAPI's page fetches its scripts from a CDN; nothing here may
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.registry = registry
    app.state.auth = auth
    app.include_router(registry_routes.router)
    app.include_router(operations_routes.router)
    app.include_router(access_routes.router)
    app.add_api_route("/health", _health, methods=["GET"], summary="Liveness: the server answers")
    app.add_exception_handler(ShipyardError, _failure)  # type: ignore[arg-type]
    return app


def _health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


async def _failure(request: Request, error: ShipyardError) -> JSONResponse:
    """Every shipyard error as ``{"error": {"type", "message"}}`` with its own HTTP status."""
    headers = {"www-authenticate": "Bearer"} if isinstance(error, Unauthenticated) else None
    body = {"error": {"type": type(error).__name__, "message": str(error)}}
    return JSONResponse(body, status_code=error.http_status, headers=headers)
