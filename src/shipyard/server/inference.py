"""The prediction routes of the three protocols: each decodes with its codec, predicts with the one engine,
records beside it, and encodes with its codec. A failure anywhere leaves the route as an exception and is
answered by ``shipyard.server.failures`` in the same protocol.

During a rollout every protocol routes alike: the engine picks the arm, from the routing key's header when
the rollout names one (``header:<Name>``), and every answer says which arm it came from in
``X-Shipyard-Arm``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shipyard.errors import InvalidInput, ShipyardError
from shipyard.numerals import whole_number
from shipyard.server.bodies import read_body
from shipyard.server.calls import begin, finish, server_of, speak, to_response
from shipyard.serving.codecs import EncodedResponse
from shipyard.serving.codecs import mlflow as mlflow_codec
from shipyard.serving.codecs import native as native_codec
from shipyard.serving.codecs import oip as oip_codec
from shipyard.serving.engine import Engine
from shipyard.serving.recorder import InferenceCall
from shipyard.serving.results import DecodedRequest, PredictionResult

Decode = Callable[[bytes], DecodedRequest]
Encode = Callable[[PredictionResult, DecodedRequest], EncodedResponse]

#: Bodies at least this large decode off the event loop; smaller ones inline (a thread hop costs more).
_DECODE_INLINE_BYTES = 64 * 1024


async def answer(request: Request, call: InferenceCall, decode: Decode, encode: Encode) -> Response:
    """Read, decode, predict, record and encode one request of any protocol."""
    server = server_of(request)
    begin(request, call)
    body = await read_body(request, server.config.max_body_bytes)
    decoded = decode(body) if len(body) < _DECODE_INLINE_BYTES else await asyncio.to_thread(decode, body)
    call.rows = len(decoded.frame)
    result = await server.engine.predict(
        call.model,
        decoded.frame,
        version=call.version,
        key_value=routing_header(server.engine, call.model, request),
        text_input=decoded.text_input,
        want_proba=bool(decoded.options.get("want_proba", True)),
        request_id=call.request_id,
        on_route=call.routed,
    )
    encoded = encode(result, decoded)
    server.recorder.answered(call, decoded, result)
    finish(request, call, encoded.status)
    return to_response(encoded, call.request_id, result.arm)


def routing_header(engine: Engine, name: str, request: Request) -> str | None:
    """The value of the header a rollout of ``name`` routes by (``header:<Name>``), if it has one; a column
    key is the engine's to read from the rows."""
    served = engine.models.get(name)
    split = served.split if served is not None else None
    if split is None or split.key is None or split.key.source != "header":
        return None
    return request.headers.get(split.key.name) or None


async def native_predict(request: Request) -> Response:
    speak(request, native_codec.encode_failure)
    name = request.path_params["name"]
    engine = server_of(request).engine
    features, extra = input_columns(engine, name)
    return await answer(
        request,
        InferenceCall(name, "native"),
        lambda body: native_codec.decode(body, features, extra_columns=extra, max_rows=engine.max_queue_rows),
        native_codec.encode,
    )


async def invocations(request: Request) -> Response:
    """MLflow's scoring route; a server of several models is told which by ``?model=`` or a header."""
    speak(request, mlflow_codec.encode_failure)
    engine = server_of(request).engine
    name = request.query_params.get("model") or request.headers.get("x-shipyard-model") or _only_model(engine)
    features, extra = input_columns(engine, name)
    content_type = request.headers.get("content-type")
    return await answer(
        request,
        InferenceCall(name, "mlflow"),
        lambda body: mlflow_codec.decode(
            body, content_type, features, extra_columns=extra, max_rows=engine.max_queue_rows
        ),
        mlflow_codec.encode,
    )


async def oip_infer(request: Request) -> Response:
    speak(request, oip_codec.encode_failure)
    name = request.path_params["name"]
    version = version_param(request.path_params.get("version"))
    engine = server_of(request).engine
    features, extra = input_columns(engine, name)
    headers = dict(request.headers)
    return await answer(
        request,
        InferenceCall(name, "oip", version),
        lambda body: oip_codec.decode(
            body, headers, features, extra_columns=extra, max_rows=engine.max_queue_rows
        ),
        oip_codec.encode,
    )


def version_param(value: str | None) -> int | None:
    """A version number from a path, or None when the path names none; anything but ASCII digits from 1
    ('²', '٣', '-1', a 5,000-digit number) is a bad version (400), never a failed conversion (500)."""
    if value is None:
        return None
    version = whole_number(value)
    if version is None or version < 1:
        raise InvalidInput(f"bad version {value[:40]!r}: model versions are whole numbers from 1")
    return version


def input_columns(engine: Engine, name: str) -> tuple[list[str] | None, str]:
    """The column names a positional payload (a bare list of rows, a 2-D tensor) stands for, and what the
    codec does with other columns: the contract's ``extra_columns`` policy, or "drop" for a model that
    names its features without a contract (it reads only those). Unknown: (None, "keep")."""
    try:
        slot = engine.slot(name)
    except ShipyardError:
        return None, "keep"
    if slot.contract is not None:
        return slot.contract.names, slot.contract.extra_columns
    features = slot.version.info.feature_names
    return features, "drop" if features is not None else "keep"


def _only_model(engine: Engine) -> str:
    if len(engine.models) != 1:
        names = ", ".join(engine.models)
        raise InvalidInput(f"this server serves several models ({names}); name one with ?model=NAME")
    return next(iter(engine.models))


ROUTES = [
    Route(native_codec.ROUTE, native_predict, methods=["POST"]),
    Route(mlflow_codec.INVOCATIONS_ROUTE, invocations, methods=["POST"]),
    *(Route(path, oip_infer, methods=["POST"]) for path in oip_codec.INFER_ROUTES),
]
