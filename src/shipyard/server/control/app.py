"""The control-plane application: the management API's routers over one registry, one error shape, and
the OpenAPI description FastAPI derives from the routes themselves (so it cannot drift from them)."""

from __future__ import annotations

import contextlib
import gc
import secrets
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.middleware.gzip import GZipMiddleware

from shipyard._version import __version__
from shipyard.config import Settings
from shipyard.errors import ShipyardError, Unauthenticated
from shipyard.registry import Registry
from shipyard.server.control import access_routes, api_docs, operations_routes, registry_routes
from shipyard.server.control.limits import DEFAULT_MAX_BODY_BYTES, BodyLimit
from shipyard.server.dashboard import STATIC_PATH, operations_pages, pages, static_files
from shipyard.server.dashboard.templates import render


def create_control_app(
    settings: Settings, *, auth: bool, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> FastAPI:
    """The control plane of the workspace ``settings`` names; ``auth`` off makes every caller the
    workspace's own user with the admin role (for a server on loopback only)."""
    registry = Registry(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # What is alive now (modules, the app, templates) lives as long as the server: moved out of the
        # collector's way, a full collection no longer walks it, which took ~150 ms of one page in six.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            registry.close()

    app = FastAPI(
        title="shipyard control plane",
        version=__version__,
        description="Models, versions, aliases, rollouts, monitors, alerts and audit of one workspace.",
        docs_url=None,  # FastAPI's own page fetches Swagger UI from a CDN: /api/docs serves the shipped copy
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.registry = registry
    app.state.auth = auth
    app.state.local_secret = secrets.token_urlsafe(32)  # the CSRF key of pages when auth is off
    app.include_router(registry_routes.router)
    app.include_router(operations_routes.router)
    app.include_router(access_routes.router)
    app.include_router(pages.router)
    app.include_router(operations_pages.router)
    app.mount(STATIC_PATH, static_files(), name="static")
    app.add_middleware(GZipMiddleware, minimum_size=1024)  # Plotly's 1.2 MB travel as 0.4 MB
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_api_route("/health", _health, methods=["GET"], summary="Liveness: the server answers")
    api_docs.add_routes(app)
    app.add_exception_handler(ShipyardError, _failure)  # type: ignore[arg-type]
    return app


def _health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


async def _failure(request: Request, error: ShipyardError) -> Response:
    """Every shipyard error as ``{"error": {"type", "message"}}`` with its own HTTP status; on a dashboard
    page, the sign-in form for a visitor who is not signed in, and an error page for the rest."""
    if not request.url.path.startswith("/api/"):
        if isinstance(error, Unauthenticated):
            return pages.login_redirect(request.url.path)
        return _error_page(request, error)
    headers = {"www-authenticate": "Bearer"} if isinstance(error, Unauthenticated) else None
    body = {"error": {"type": type(error).__name__, "message": str(error)}}
    return JSONResponse(body, status_code=error.http_status, headers=headers)


def _error_page(request: Request, error: ShipyardError) -> HTMLResponse:
    principal = getattr(request.state, "principal", None)
    html = render(
        "error.html",
        workspace=pages.workspace_name(request.app.state.registry),
        user=f"{principal.user} ({principal.role.label})" if principal else "",
        status=error.http_status,
        title={403: "Not allowed", 404: "Not found"}.get(error.http_status, "Something went wrong"),
        message=str(error),
    )
    return HTMLResponse(html, status_code=error.http_status)
