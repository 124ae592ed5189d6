"""Bearer-token access: one shared token for every route but the probes, metrics, version, OpenAPI and the API
page.

The public routes are listed by their exact paths (a prefix would also open ``/healthz`` or any route added
later under the same prefix), and the scheme name is matched case-insensitively, as RFC 9110 requires.
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.responses import JSONResponse

#: Routes open without a token: probes, scrapers and protocol discovery carry none. The API page and its two
#: files are public as FastAPI's are: they show what /openapi.json already does, and "Try it out" still needs
#: the token.
PUBLIC_PATHS = frozenset(
    {
        "/ping",
        "/health",
        "/version",
        "/health/live",
        "/health/ready",
        "/v2/health/live",
        "/v2/health/ready",
        "/metrics",
        "/openapi.json",
        "/",
        "/docs",
        "/docs/swagger-ui.css",
        "/docs/swagger-ui-bundle.js",
    }
)


def bearer_credentials(authorization: bytes) -> bytes | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme in any case), or None."""
    scheme, _, credentials = authorization.strip().partition(b" ")
    if scheme.lower() != b"bearer":
        return None
    return credentials.strip()


class BearerTokenMiddleware:
    """Every route outside ``PUBLIC_PATHS`` needs ``Authorization: Bearer <token>``."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        supplied = dict(scope.get("headers") or []).get(b"authorization", b"")
        credentials = bearer_credentials(supplied)
        if credentials is not None and hmac.compare_digest(credentials, self.token):
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            {"error": "this server needs 'Authorization: Bearer <token>'"},
            status_code=401,
            headers={"www-authenticate": "Bearer"},
        )
        await response(scope, receive, send)
