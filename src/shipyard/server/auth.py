"""Bearer-token access: one shared token for every route but health, metrics and the OpenAPI document."""

from __future__ import annotations

import hmac
from typing import Any

from starlette.responses import JSONResponse

#: Routes open without a token: probes and scrapers carry none.
PUBLIC_PATHS = ("/health", "/ping", "/metrics", "/v2/health", "/openapi.json", "/version")


class BearerTokenMiddleware:
    """Every route outside ``PUBLIC_PATHS`` needs ``Authorization: Bearer <token>``."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(PUBLIC_PATHS):
            await self.app(scope, receive, send)
            return
        supplied = dict(scope.get("headers") or []).get(b"authorization", b"")
        if supplied.startswith(b"Bearer ") and hmac.compare_digest(supplied[7:].strip(), self.token):
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            {"error": "this server needs 'Authorization: Bearer <token>'"},
            status_code=401,
            headers={"www-authenticate": "Bearer"},
        )
        await response(scope, receive, send)
