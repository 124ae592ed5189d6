"""The one place a failure becomes a response.

Every error class carries its HTTP status (``shipyard.errors``); the handler looks it up along the error's
MRO, records a prediction call's failure in the prediction log, counts it, and asks the protocol that
carried the request to encode it (``encode_failure``), so a native client gets its problems list, an MLflow
client MLflow's error body and an OIP client the protocol's ``{"error"}``. Errors shipyard did not raise on
purpose answer 500 the same way, without their message (Starlette then re-raises them, so the server logs
their traceback). A client that hung up before its body arrived (``ClientDisconnect``) is no failure of the
server: its access line says 499, as nginx's does, and it is neither logged with a traceback nor recorded in
the prediction log, so it never counts towards ``health.error_rate``.
"""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from shipyard.errors import ModelFailed, ShipyardError, Unavailable
from shipyard.server.calls import CLIENT_CLOSED_REQUEST, finish, server_of, to_response
from shipyard.serving.codecs import EncodedResponse, error_response
from shipyard.serving.recorder import InferenceCall

log = logging.getLogger("shipyard.serving")


_INTERNAL = ShipyardError("the server failed to answer; its log has the details")


def status_of(error: BaseException) -> int:
    """The HTTP status of ``error``: its class's, or 500 for anything shipyard did not raise on purpose."""
    return error.http_status if isinstance(error, ShipyardError) else 500


async def handle_failure(request: Request, error: Exception) -> Response:
    if isinstance(error, ClientDisconnect):
        return _client_left(request)
    status = status_of(error)
    call: InferenceCall | None = getattr(request.state, "call", None)
    request_id = "-"
    arm = None
    if call is not None:
        arm = call.arm if call.routed_version is not None else None
        request_id = call.request_id
        if isinstance(error, ModelFailed):
            log.error("request %s to %s failed [error %s]", request_id, call.model, error.error_id)
        server_of(request).recorder.failed(call, error, status)
        finish(request, call, status)
    encode = getattr(request.state, "encode_failure", _plain_failure)
    shown = error if isinstance(error, ShipyardError) else _INTERNAL  # a bug's message stays in the log
    response = to_response(encode(shown, status, request_id), request_id, arm)
    if isinstance(error, Unavailable) and error.retry_after is not None:
        response.headers["retry-after"] = str(int(error.retry_after + 0.999))
    return response


def _client_left(request: Request) -> Response:
    """Nobody is there to read an answer: the request only gets its access line and its count."""
    call: InferenceCall | None = getattr(request.state, "call", None)
    if call is not None:
        finish(request, call, CLIENT_CLOSED_REQUEST)
    return Response(status_code=CLIENT_CLOSED_REQUEST)


def _plain_failure(error: BaseException, status: int, request_id: str) -> EncodedResponse:
    return error_response(str(error), status)
