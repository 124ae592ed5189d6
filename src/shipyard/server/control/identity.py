"""Who is calling the control plane, and whether their role allows what they ask.

A request carries an API token (``Authorization: Bearer shy_…``) or, from the dashboard, a session cookie;
either resolves to a ``Principal`` through ``shipyard.access``. With auth off (a server bound to loopback
that was not asked for it) every caller is the workspace's own user with the admin role, as the CLI is.
Changes are made through ``registry.acting_as(user)``, so the audit trail names the person, not the server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from shipyard.access import AccessService, Principal, Role, require
from shipyard.errors import Unauthenticated
from shipyard.registry import Registry
from shipyard.server.auth import bearer_credentials

SESSION_COOKIE = "shipyard_session"


def registry_of(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def caller(request: Request) -> Principal:
    """The principal the request's token or session cookie names (cached on the request)."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    registry = registry_of(request)
    if not request.app.state.auth:
        principal = Principal(registry.actor, Role.ADMIN, "local")
    else:
        principal = _authenticate(request, AccessService(registry.db, registry.actor))
    request.state.principal = principal
    return principal


def _authenticate(request: Request, access: AccessService) -> Principal:
    header = request.headers.get("authorization")
    if header is not None:
        secret = bearer_credentials(header.encode("latin-1"))
        if secret is None:
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
        return access.authenticate(secret.decode("latin-1"))
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        principal, csrf = access.session(cookie)
        request.state.csrf_token = csrf
        return principal
    raise Unauthenticated(
        "this server needs a token: send 'Authorization: Bearer <token>' (create one with "
        "'shipyard tokens create --user NAME') or sign in to the dashboard"
    )


def needs(role: Role, action: str) -> Callable[[Request], Registry]:
    """A dependency: the registry acting as the caller, once the caller's role allows ``action``."""

    def dependency(request: Request) -> Registry:
        principal = caller(request)
        require(principal, role, action)
        registry = registry_of(request)
        return registry if principal.via == "local" else registry.acting_as(principal.user)

    return dependency


#: The registry for a read: any signed-in user (a viewer or more) may read.
Reader = Annotated[Registry, Depends(needs(Role.VIEWER, "reading"))]
