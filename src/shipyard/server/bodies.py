"""Reading request bodies: refused for their size (413) or their Content-Type (415) before anything is parsed.

Every route that reads a body reads it here, so the two checks hold on every route at once. The Content-Type
check keeps other web pages out: a browser lets any page send a "simple" cross-site request — a POST whose
Content-Type is ``text/plain``, ``application/x-www-form-urlencoded`` or ``multipart/form-data``, or that has
none — without asking the server first. A route that required nothing could be made to predict or to store a
label by whoever gets a browser to open a page. So each route accepts only its protocol's own media types,
none of which a page can send without a CORS preflight, which this server never grants.

The one exception is the Open Inference Protocol: tritonclient and KServe's REST client send JSON requests
with no Content-Type at all, so OIP accepts a body without one. OIP only predicts (nothing stored changes
but the prediction log); a server a browser can reach should have a token, which no page can add.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.requests import Request

from shipyard.errors import PayloadTooLarge, UnsupportedMediaType
from shipyard.serving.codecs import JSON_MEDIA_TYPE, decompressed
from shipyard.serving.codecs import mlflow as mlflow_codec
from shipyard.serving.codecs import oip as oip_codec


@dataclass(frozen=True)
class MediaTypes:
    """The Content-Types a route reads (parameters such as ``charset`` aside), and whether it reads a body
    that has none."""

    accepted: tuple[str, ...]
    untyped: bool = False

    def check(self, content_type: str | None) -> None:
        """Refuse (415) a Content-Type this route does not read, naming the ones it does."""
        media_type = (content_type or "").split(";", 1)[0].strip().lower()
        if media_type in self.accepted or (not media_type and self.untyped):
            return
        accepted = f"send Content-Type {' or '.join(self.accepted)}"
        if not media_type:
            raise UnsupportedMediaType(f"the request has no Content-Type; {accepted}")
        raise UnsupportedMediaType(f"Content-Type {media_type[:100]!r} is not supported; {accepted}")


#: shipyard's own routes (native predictions, feedback) read JSON only.
JSON_BODY = MediaTypes((JSON_MEDIA_TYPE,))

#: What each protocol's prediction route reads, by ``InferenceCall.protocol``.
PROTOCOL_BODIES = {
    "native": JSON_BODY,
    "mlflow": MediaTypes((mlflow_codec.CONTENT_TYPE_JSON, mlflow_codec.CONTENT_TYPE_CSV)),  # MLflow's own
    "oip": MediaTypes((JSON_MEDIA_TYPE, oip_codec.BINARY_MEDIA_TYPE), untyped=True),
}


async def read_body(request: Request, limit: int, media_types: MediaTypes | None = None) -> bytes:
    """The request body, refusing it (413) as soon as it passes ``limit`` bytes, declared or not, and (415)
    when its Content-Type is not one of ``media_types``: by default those of the prediction call's protocol
    (``request.state.call``), or JSON for a route that is not a prediction. A gzip or deflate body comes
    back decompressed, held to the same limit."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is {int(declared):,} bytes; this server accepts at most {limit:,}")
    if media_types is None:
        call = getattr(request.state, "call", None)
        media_types = PROTOCOL_BODIES.get(call.protocol, JSON_BODY) if call is not None else JSON_BODY
    media_types.check(request.headers.get("content-type"))
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over {limit:,} bytes; this server accepts at most {limit:,}")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding")
    if encoding:
        body = await asyncio.to_thread(decompressed, body, encoding, limit)
    return body
