"""Reading request bodies with a size limit, before anything is parsed."""

from __future__ import annotations

from starlette.requests import Request

from shipyard.errors import PayloadTooLarge


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing it (413) as soon as it passes ``limit`` bytes, declared or not."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is {int(declared):,} bytes; this server accepts at most {limit:,}")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over {limit:,} bytes; this server accepts at most {limit:,}")
        chunks.append(chunk)
    return b"".join(chunks)
