"""The largest body the control plane reads: a model upload is the only big one, and a body past the limit
is refused with 413 before it fills the server's disk, whether it declares its length or streams chunks."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Default limit: a model file of a few hundred megabytes, with its reference rows, fits.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024 * 1024


class BodyLimit:
    """ASGI middleware refusing any request body over ``max_bytes`` with a JSON 413 naming the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, f"the body is {int(declared):,} bytes")
            return
        seen = 0
        refused = False

        async def counted() -> Message:
            """The body as it arrives, cut short (and the request marked refused) past the limit."""
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    refused = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def answer(message: Message) -> None:
            """The app's answer, or, for a refused body, the 413 in its place (sent once)."""
            if not refused:
                await send(message)
            elif message["type"] == "http.response.start":
                await self._refuse(send, f"the body is over {self.max_bytes:,} bytes")

        await self.app(scope, counted, answer)

    async def _refuse(self, send: Send, what: str) -> None:
        message = f"{what}; this server accepts at most {self.max_bytes:,} (shipyard server --max-upload-mb)"
        body = json.dumps({"error": {"type": "PayloadTooLarge", "message": message}}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
