"""The dashboard's pages: signing in and out, the models, and one page per model with its versions,
aliases (and their rollback), health, drift, data quality and accuracy.

Each page is a thin read of the same services the API calls, rendered on the server. A page needs a
signed-in user (any role); a form that changes something needs the role the API route needs, and the
page's CSRF token (``identity.check_browser_change``). A rollback is two steps: a page that says exactly
what will move, then the form that moves it; both are a link away from the model's page.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shipyard.access import AccessService, Role
from shipyard.durations import parse_duration
from shipyard.errors import InvalidInput, Unauthenticated
from shipyard.monitoring.series import stored_windows
from shipyard.registry import Registry
from shipyard.registry.aliases import rollback_target
from shipyard.server.control.identity import (
    SESSION_COOKIE,
    Reader,
    caller,
    check_browser_change,
    csrf_token,
    needs,
    registry_of,
)
from shipyard.server.dashboard import charts
from shipyard.server.dashboard.feature_distributions import feature_distributions
from shipyard.server.dashboard.templates import render

router = APIRouter(include_in_schema=False)
Operator = Annotated[Registry, Depends(needs(Role.OPERATOR, "rollback"))]
#: The accuracy figures the model page draws (those a model has): a few lines a person can read, not all.
SHOWN_ACCURACY = ("accuracy", "roc_auc", "rmse", "mae")
#: How far back the model page's charts reach by default, and at most.
DEFAULT_DAYS, MAX_DAYS = 7, 90


def workspace_name(registry: Registry) -> str:
    """What the header calls the workspace: the folder holding its ``.shipyard``."""
    home = registry.settings.home
    return home.parent.name if home.name == ".shipyard" else home.name


def page(
    request: Request, template: str, *, active: str | None = None, status: int = 200, **context: Any
) -> HTMLResponse:
    """``template`` rendered with what every page shows: the workspace, the signed-in user and their role,
    and the CSRF token for its forms."""
    principal = caller(request)
    registry = registry_of(request)
    html = render(
        template,
        workspace=workspace_name(registry),
        user=f"{principal.user} ({principal.role.label})",
        active=active,
        csrf_token=csrf_token(request),
        signed_in=principal.via == "session",
        can_operate=principal.can(Role.OPERATOR),
        **context,
    )
    return HTMLResponse(html, status_code=status)


# -- signing in and out ------------------------------------------------------------------------------
@router.get("/login")
def login_form(request: Request, next: str = "/models") -> Response:
    if not request.app.state.auth:
        return RedirectResponse(_local_path(next), status_code=303)
    workspace = workspace_name(registry_of(request))
    return HTMLResponse(render("login.html", workspace=workspace, next=next, error=""))


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/models",
) -> Response:
    registry = registry_of(request)
    access = AccessService(registry.db, registry.actor)
    try:
        principal = access.check_password(username, password)
    except Unauthenticated as refused:
        html = render("login.html", workspace=workspace_name(registry), next=next, error=str(refused))
        return HTMLResponse(html, status_code=401)
    grant = access.open_session(principal)
    response = RedirectResponse(_local_path(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        grant.secret,
        expires=grant.expires_at,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    principal = caller(request)
    await check_browser_change(request, principal)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        registry = registry_of(request)
        AccessService(registry.db, registry.actor).close_session(cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _local_path(target: str) -> str:
    """``target`` if it is a path on this server, else the models page (no redirect to another site)."""
    return target if target.startswith("/") and not target.startswith("//") else "/models"


def login_redirect(path: str) -> RedirectResponse:
    """Where a page sends a visitor who is not signed in: the sign-in form, then back here."""
    return RedirectResponse(f"/login?next={quote(path)}", status_code=303)


# -- models --------------------------------------------------------------------------------------------
@router.get("/")
def home() -> Response:
    return RedirectResponse("/models", status_code=303)


@router.get("/models")
def models_page(request: Request, registry: Reader) -> HTMLResponse:
    models = sorted(registry.list_models(), key=lambda model: model.name)
    return page(request, "models.html", active="Models", models=models)


@router.get("/models/{name}")
def model_page(
    request: Request,
    name: str,
    registry: Reader,
    window: str = "1h",
    days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = DEFAULT_DAYS,
    moved: str = "",
) -> HTMLResponse:
    model = registry.get_model(name)
    versions = registry.list_versions(name)
    length = _window(window)
    newest = stored_windows(registry, name, length, last=1)
    end = newest[-1].end if newest else datetime.now(UTC)  # a model idle for weeks still shows its last days
    windows = stored_windows(registry, name, length, start=end - timedelta(days=days), end=end)
    figures = {
        "requests": charts.request_rate_figure(windows),
        "errors": charts.error_rate_figure(windows),
        "latency": charts.latency_figure(windows),
        "resources": charts.resources_figure(windows),
        "drift": charts.drift_figure(windows),
        "quality": charts.quality_figure(windows),
        "accuracy": charts.accuracy_figure(windows, metrics=SHOWN_ACCURACY),
    }
    history = list(reversed(registry.alias_history(name)))[:20]
    return page(
        request,
        "model.html",
        active="Models",
        model=model,
        versions=list(reversed(versions)),
        history=history,
        figures=figures,
        window=window,
        days=days,
        monitored=bool(windows),
        newest=end if newest else None,
        moved=moved,
    )


@router.get("/models/{name}/versions/{version}")
def version_page(
    request: Request, name: str, version: int, registry: Reader, window: str = "1h"
) -> HTMLResponse:
    """A version's card, metrics, contract, lineage and parameters, and its features' distributions in
    training against its newest monitored ``window`` with traffic."""
    found = registry.get_version(name, version)
    distributions = feature_distributions(registry, found, _window(window))
    return page(request, "version.html", active="Models", version=found, distributions=distributions)


@router.get("/models/{name}/aliases/{alias}/rollback")
def rollback_confirmation(request: Request, name: str, alias: str, registry: Reader) -> HTMLResponse:
    """What a rollback of ``name@alias`` would do, with the form that does it."""
    current = registry.resolve(f"{name}@{alias}")
    target = rollback_target(name, alias, registry.alias_history(name, alias))
    return page(request, "rollback.html", active="Models", current=current, alias=alias, target=target)


@router.post("/models/{name}/aliases/{alias}/rollback")
def rollback(name: str, alias: str, registry: Operator, reason: Annotated[str, Form()] = "") -> Response:
    change = registry.rollback(f"{name}@{alias}", reason=reason or "rolled back from the dashboard")
    moved = f"{name}@{alias} v{change.previous_version} → v{change.version}"
    return RedirectResponse(f"/models/{quote(name)}?moved={quote(moved)}", status_code=303)


def _window(text: str) -> timedelta:
    try:
        return parse_duration(text, what="window", minimum=timedelta(minutes=1))
    except InvalidInput:
        raise InvalidInput(f"window {text!r} is not a duration such as '1h' or '5m'") from None
