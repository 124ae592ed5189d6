"""``POST /v1/feedback``: late ground truth, attached to logged predictions by their ids.

The body must be sent as ``application/json`` (``shipyard.server.bodies``): a label changes what is stored,
so no other web page may be able to post one from a visitor's browser.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shipyard.monitoring.feedback import attach_labels, feedback_pairs
from shipyard.server.bodies import JSON_BODY, read_body
from shipyard.server.calls import server_of
from shipyard.serving.codecs import native as native_codec
from shipyard.serving.codecs import parse_json


async def feedback(request: Request) -> Response:
    server = server_of(request)
    body = await read_body(request, server.config.max_body_bytes, JSON_BODY)
    pairs = feedback_pairs(parse_json(body))
    await asyncio.to_thread(server.recorder.flush)  # this worker's newest predictions become findable
    report = await asyncio.to_thread(
        attach_labels,
        server.registry,
        server.prediction_log,
        pairs,
        source="api",
        settle_seconds=server.settings.log_flush_seconds + 1.0,
    )
    return JSONResponse(report.to_dict())


ROUTES = [Route(native_codec.FEEDBACK_ROUTE, feedback, methods=["POST"])]
