"""The life of one prediction request in the server: counted, timed and logged the same way whatever its
protocol and however it ends.

``begin`` marks the request as a prediction call (in-flight gauge up; the failure handler now knows whose
failure it is and how to encode it); ``finish`` counts it by status, times it and writes its access line
with the prediction id.

Metric labels come from the server, never from the client: a model name this server does not serve counts
as ``UNKNOWN_MODEL``, so a client sending a thousand made-up names adds no series to ``/metrics``. The
version is the one that answered (or ``-``), the arm of a rollout it answered as (``stable`` when none
runs), the protocol the route's and the status the server's.
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

#: The ``model`` label of every request for a model this server does not serve.
UNKNOWN_MODEL = "_unknown"

#: The status of a request whose client hung up before it was answered (nginx's "client closed request").
CLIENT_CLOSED_REQUEST = 499

#: The response header naming the arm of a rollout that answered: stable, canary (or shadow, never sent).
ARM_HEADER = "x-shipyard-arm"

#: How a protocol writes a failure: ``(error, status, request id) -> response``.
FailureEncoder = Callable[[BaseException, int, str], EncodedResponse]


def server_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.server
    return state


def speak(request: Request, encode_failure: FailureEncoder) -> None:
    """From here on, a failure of this request is answered in this protocol's shape."""
    request.state.encode_failure = encode_failure


def model_label(request: Request, name: str) -> str:
    """``name`` if this server serves it, else ``UNKNOWN_MODEL``: the metrics' model label."""
    return name if name in server_of(request).engine.models else UNKNOWN_MODEL


def begin(request: Request, call: InferenceCall) -> None:
    request.state.call = call
    metrics.IN_FLIGHT.labels(model_label(request, call.model)).inc()


def finish(request: Request, call: InferenceCall, status: int) -> None:
    elapsed = call.elapsed()
    model = model_label(request, call.model)
    metrics.IN_FLIGHT.labels(model).dec()
    metrics.REQUESTS.labels(model, call.served_version, call.arm, call.protocol, str(status)).inc()
    metrics.REQUEST_SECONDS.labels(model, call.protocol).observe(elapsed)
    access_log.info(
        "%s %s model=%s version=%s arm=%s protocol=%s status=%d ms=%.2f prediction_id=%s",
        request.method,
        loggable(request.url.path),
        loggable(call.model),
        call.served_version,
        call.arm,
        call.protocol,
        status,
        elapsed * 1000,
        call.request_id,
    )


def loggable(text: str, limit: int = 200) -> str:
    """Client-sent ``text`` as one field of a log line, cut at ``limit``: quoted and escaped when it holds a
    newline, a space or a terminal escape, which could otherwise forge a line or a field."""
    if not text.isprintable() or " " in text:
        text = repr(text)
    return text if len(text) <= limit else text[:limit] + "…"


def to_response(encoded: EncodedResponse, request_id: str, arm: str | None = None) -> Response:
    """A codec's response, carrying the request's prediction id in ``X-Prediction-Id`` and, for a prediction
    request routed to an arm, the arm in ``X-Shipyard-Arm``."""
    headers = {**encoded.headers, "x-prediction-id": request_id}
    if arm is not None:
        headers[ARM_HEADER] = arm
    media_type = headers.pop("content-type", "application/json")
    return Response(encoded.body, status_code=encoded.status, headers=headers, media_type=media_type)
