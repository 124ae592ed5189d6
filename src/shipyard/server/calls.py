"""The life of one prediction request in the server: counted, timed and logged the same way whatever its
protocol and however it ends.

``begin`` marks the request as a prediction call (in-flight gauge up; the failure handler now knows whose
failure it is and how to encode it); ``finish`` counts it by status, times it and writes its access line
with the prediction id.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from shipyard.server import metrics
from shipyard.server.access_log import access_log
from shipyard.server.state import ServerState
from shipyard.serving.codecs import EncodedResponse
from shipyard.serving.recorder import InferenceCall

#: How a protocol writes a failure: ``(error, status, request id) -> response``.
FailureEncoder = Callable[[BaseException, int, str], EncodedResponse]


def server_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.server
    return state


def speak(request: Request, encode_failure: FailureEncoder) -> None:
    """From here on, a failure of this request is answered in this protocol's shape."""
    request.state.encode_failure = encode_failure


def begin(request: Request, call: InferenceCall) -> None:
    request.state.call = call
    metrics.IN_FLIGHT.labels(call.model).inc()


def finish(request: Request, call: InferenceCall, status: int) -> None:
    elapsed = call.elapsed()
    metrics.IN_FLIGHT.labels(call.model).dec()
    metrics.REQUESTS.labels(call.model, call.served_version, call.protocol, str(status)).inc()
    metrics.REQUEST_SECONDS.labels(call.model, call.protocol).observe(elapsed)
    access_log.info(
        "%s %s model=%s version=%s protocol=%s status=%d ms=%.2f prediction_id=%s",
        request.method,
        request.url.path,
        call.model,
        call.served_version,
        call.protocol,
        status,
        elapsed * 1000,
        call.request_id,
    )


def to_response(encoded: EncodedResponse, request_id: str) -> Response:
    """A codec's response, carrying the request's prediction id in ``X-Prediction-Id``."""
    headers = {**encoded.headers, "x-prediction-id": request_id}
    media_type = headers.pop("content-type", "application/json")
    return Response(encoded.body, status_code=encoded.status, headers=headers, media_type=media_type)
