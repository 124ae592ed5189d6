"""Who is calling the control plane, and whether their role allows what they ask.

A request carries an API token (``Authorization: Bearer shy_…``) or, from the dashboard, a session cookie;
either resolves to a ``Principal`` through ``shipyard.access``. With auth off (a server bound to loopback
that was not asked for it) every caller is the workspace's own user with the admin role, as the CLI is.
Changes are made through ``registry.acting_as(user)``, so the audit trail names the person, not the server.

A browser sends its cookies with any form another site makes it post, so every change a browser asks for
(a session's, or any request with an ``Origin``/``Referer`` when auth is off) must carry the page's CSRF
token, in the ``csrf_token`` form field or the ``X-CSRF-Token`` header. A bearer token is never sent by a
browser on its own, so token calls need none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shipyard.access import AccessService, Principal, Role, check_csrf, require
from shipyard.access.credentials import csrf_token_of
from shipyard.errors import Unauthenticated
from shipyard.registry import Registry
from shipyard.server.auth import bearer_credentials

SESSION_COOKIE = "shipyard_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Declares the bearer scheme in the OpenAPI document (so /api/docs has an Authorize button); the token
#: itself is read by ``caller``, which also takes a session cookie.
_BEARER = HTTPBearer(auto_error=False, description="an API token: shipyard tokens create --user NAME")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]


def registry_of(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def caller(request: Request) -> Principal:
    """The principal the request's token or session cookie names (worked out once per request)."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    registry = registry_of(request)
    if not request.app.state.auth:
        principal = Principal.local(registry.actor)
        request.state.session_secret = request.app.state.local_secret
    else:
        principal = _authenticate(request, AccessService(registry.db, registry.actor))
    request.state.principal = principal
    return principal


def csrf_token(request: Request) -> str:
    """The CSRF token the caller's pages put in their forms ("" for a token caller, who needs none)."""
    caller(request)
    secret: str | None = getattr(request.state, "session_secret", None)
    return csrf_token_of(secret) if secret else ""


def _authenticate(request: Request, access: AccessService) -> Principal:
    header = request.headers.get("authorization")
    if header is not None:
        secret = bearer_credentials(header.encode("latin-1"))
        if secret is None:
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
        return access.authenticate(secret.decode("latin-1"))
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        principal, _ = access.session(cookie)
        request.state.session_secret = cookie
        return principal
    raise Unauthenticated(
        "this server needs a token: send 'Authorization: Bearer <token>' (create one with "
        "'shipyard tokens create --user NAME') or sign in to the dashboard"
    )


async def check_browser_change(request: Request, principal: Principal) -> None:
    """Refuse a change a browser asked for without the page's CSRF token (see the module doc)."""
    if request.method in _SAFE_METHODS or principal.via == "token":
        return
    from_browser = principal.via == "session" or any(h in request.headers for h in ("origin", "referer"))
    if not from_browser:
        return  # auth off, and no browser: the CLI or a script on this machine
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        field = (await request.form()).get(CSRF_FIELD)
        token = field if isinstance(field, str) else None
    check_csrf(request.state.session_secret, token)


def needs(role: Role, action: str) -> Callable[..., Awaitable[Registry]]:
    """A dependency: the registry acting as the caller, once the caller's role allows ``action`` (and a
    browser's change carries its CSRF token)."""

    async def dependency(request: Request, _: Bearer) -> Registry:
        principal = await run_in_threadpool(caller, request)  # a database read: off the event loop
        require(principal, role, action)
        await check_browser_change(request, principal)
        registry = registry_of(request)
        return registry if principal.via == "local" else registry.acting_as(principal.user)

    return dependency


def signed_in(request: Request, _: Bearer) -> Principal:
    """A dependency: whoever the token or session names (any role)."""
    return caller(request)


#: The registry for a read: any signed-in user (a viewer or more) may read.
Reader = Annotated[Registry, Depends(needs(Role.VIEWER, "reading"))]
