"""The HTTP half every client of the management API shares: one connection with the caller's token, and
the server's errors turned back into the shipyard error classes they were on the server.

A server that cannot be reached is ``Unavailable`` naming the URL; a refusal keeps the server's own
message (a 401 says how to get a token, a 403 names the role needed), so the CLI prints it as it would a
local error.
"""

from __future__ import annotations

from typing import Any, Self

import httpx

from shipyard import errors
from shipyard.errors import InvalidInput, ShipyardError, Unavailable


class ApiClient:
    """A connection to the management API of the ``shipyard server`` at ``url``."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise Unavailable(f"cannot reach the shipyard server at {self.url}: {error}") from None
        if response.is_success:
            return response.json() if response.content else None
        raise error_of(response)


def error_of(response: httpx.Response) -> ShipyardError:
    """The server's error as the shipyard error class it names (its own message), or a plain one."""
    try:
        body = response.json()
    except ValueError:
        return ShipyardError(f"the server answered {response.status_code}: {response.text[:200]}")
    if "detail" in body:  # a request the API's own validation refused
        problems = "; ".join(
            f"{'.'.join(map(str, item.get('loc', ())))}: {item.get('msg')}" for item in body["detail"]
        )
        return InvalidInput(f"the server refused the request: {problems}")
    error = body.get("error") or {}
    kind = getattr(errors, str(error.get("type")), None)
    cls = kind if isinstance(kind, type) and issubclass(kind, ShipyardError) else ShipyardError
    message = error.get("message") or f"the server answered {response.status_code}"
    if cls is errors.GateFailed:  # a refused promotion comes with the gate report that refused it
        return errors.GateFailed(message, body.get("gate"))
    return cls(message)
