"""The ASGI application: three protocols over one engine, plus health, metrics and OpenAPI.

Routes only translate: a codec decodes the body into rows, the engine validates, batches and predicts, the
codec encodes the answer. Errors map to one status each, and every response carries the request's
prediction id (``X-Prediction-Id``). Bodies are read with a size limit (413) before anything is parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shipyard import __version__
from shipyard.alerts import current_alerts
from shipyard.config import load_settings
from shipyard.errors import InvalidInput, NotFound, ShipyardError
from shipyard.ids import new_request_id
from shipyard.monitoring.feedback import attach_labels, feedback_pairs
from shipyard.monitoring.series import latest_points, window_label
from shipyard.predictions import LogWriter, PredictionLog
from shipyard.predictions.events import contract_problems
from shipyard.registry import Registry
from shipyard.serving import metrics
from shipyard.serving.access_log import BatchedLineHandler
from shipyard.serving.batcher import DeadlineExceeded, Overloaded
from shipyard.serving.codecs import EncodedResponse, UnsupportedMediaType, parse_json
from shipyard.serving.codecs import mlflow as mlflow_codec
from shipyard.serving.codecs import native as native_codec
from shipyard.serving.codecs import oip as oip_codec
from shipyard.serving.config import ServeConfig
from shipyard.serving.engine import Engine, ModelFailed
from shipyard.serving.openapi import openapi_document
from shipyard.serving.prediction_log import FailedRequest, NullSink, PredictionRecord, PredictionSink
from shipyard.serving.results import DecodedRequest, PredictionResult, RequestRejected
from shipyard.serving.usage import sample_usage_forever

access_log = logging.getLogger("shipyard.access")
log = logging.getLogger("shipyard.serving")

_PUBLIC_PATHS = ("/health", "/ping", "/metrics", "/v2/health", "/openapi.json", "/version")


class BodyTooLarge(InvalidInput):
    status = 413


def _status_of(error: BaseException) -> int:
    """One HTTP status per error class."""
    if isinstance(error, BodyTooLarge | UnsupportedMediaType):
        return error.status
    if isinstance(error, RequestRejected):
        return 422
    if isinstance(error, InvalidInput):
        return 400
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Overloaded):
        return 503
    if isinstance(error, DeadlineExceeded):
        return 504
    return 500


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing it (413) as soon as it passes ``limit`` bytes, declared or not."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the body is {int(declared):,} bytes; this server accepts at most {limit:,}")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the body is over {limit:,} bytes; this server accepts at most {limit:,}")
        chunks.append(chunk)
    return b"".join(chunks)


def _response(encoded: EncodedResponse, request_id: str) -> Response:
    headers = {**encoded.headers, "x-prediction-id": request_id}
    media_type = headers.pop("content-type", "application/json")
    return Response(encoded.body, status_code=encoded.status, headers=headers, media_type=media_type)


def _configure_logging() -> None:
    """Access and server logs as one key=value line each on stderr, unless the host app configured them.

    Server messages are written at once; access lines in batches (``BatchedLineHandler``).
    """
    root = logging.getLogger("shipyard")
    if root.handlers:
        return
    line = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    handler = logging.StreamHandler()
    handler.setFormatter(line)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    batched = BatchedLineHandler()  # one line per request: written in batches, off the request path
    batched.setFormatter(line)
    access_log.addHandler(batched)
    access_log.propagate = False


def build_app(config: ServeConfig | None = None, *, sink: PredictionSink | None = None) -> Starlette:
    """The server for ``config`` (default: the one ``shipyard serve`` put in the environment); every answered
    prediction goes to ``sink`` (default: the workspace's prediction log, unless ``log_predictions`` is off).
    """
    config = config or ServeConfig.from_environment()
    _configure_logging()
    settings = load_settings(
        config.home, registry_url=config.registry_url, artifacts_url=config.artifacts_url
    )
    registry = Registry(settings)
    prediction_log = PredictionLog(settings.log_url)
    # The sink is made in the lifespan, inside the worker process whose predictions it writes.
    sinks: dict[str, PredictionSink] = {"out": sink or NullSink()}
    engine = Engine(
        registry,
        config.references,
        max_batch_rows=config.max_batch_rows,
        max_queue_rows=config.max_queue_rows,
        request_timeout=config.request_timeout,
        trust=config.trust,
        on_batch=metrics.record_batch,
    )
    state: dict[str, Any] = {"draining": False}

    async def follow_aliases() -> None:
        while True:
            await asyncio.sleep(config.refresh_seconds)
            try:
                await engine.refresh()
                for name, served in engine.models.items():
                    if served.current is not None:
                        metrics.SERVED_VERSION.labels(name).set(served.current.version.version)
            except Exception:  # the loop must survive a database hiccup; the next tick retries
                log.exception("refreshing the served versions failed")

    def served_versions() -> tuple[tuple[str, int], ...]:
        return tuple(
            (name, served.current.version.version)
            for name, served in engine.models.items()
            if served.current is not None
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await engine.refresh()
        for name, served in engine.models.items():
            if served.current is not None:
                metrics.LOAD_SECONDS.labels(name, str(served.current.version.version)).set(
                    served.current.loaded_seconds
                )
                metrics.SERVED_VERSION.labels(name).set(served.current.version.version)
        # Everything alive now (libraries, models) lives as long as the server: moved out of the collector's
        # reach, a full collection no longer walks it and stalls every request in the worker for ~200 ms (it
        # made the slowest 2% of requests 6× slower than the rest under load). Garbage is collected first so
        # none is kept.
        gc.collect()
        gc.freeze()
        writer = None
        if sink is None and config.log_predictions:
            writer = LogWriter(
                settings.log_url,
                flush_seconds=settings.log_flush_seconds,
                sample_rate=settings.log_sample_rate,
                on_written=metrics.record_log_flush,
            )
            sinks["out"] = writer
        follower = asyncio.create_task(follow_aliases())
        sampler = None
        if writer is not None:
            sampler = asyncio.create_task(
                sample_usage_forever(lambda: sinks["out"], served_versions, settings.log_usage_seconds)
            )
        try:
            yield
        finally:
            state["draining"] = True
            follower.cancel()
            if sampler is not None:
                sampler.cancel()
            await engine.close()  # queued and running batches finish before the process exits
            if writer is not None:
                sinks["out"] = NullSink()
                await asyncio.to_thread(writer.close)  # a clean shutdown writes every buffered prediction
            registry.close()
            for handler in access_log.handlers:  # worker processes exit without running atexit hooks
                handler.flush()

    async def predict(
        request: Request,
        name: str,
        protocol: str,
        decode: Callable[[bytes], DecodedRequest],
        encode: Callable[[PredictionResult, DecodedRequest], EncodedResponse],
        encode_failure: Callable[[BaseException, str], EncodedResponse],
        version: int | None = None,
    ) -> Response:
        request_id = new_request_id()
        started = time.perf_counter()
        status = 500
        served_version = "-"
        rows = 0
        metrics.IN_FLIGHT.labels(name).inc()
        try:
            body = await read_body(request, config.max_body_bytes)
            decoded = await _decode_off_loop(decode, body)
            rows = len(decoded.frame)
            result = await engine.predict(
                name,
                decoded.frame,
                version=version,
                text_input=decoded.text_input,
                want_proba=bool(decoded.options.get("want_proba", True)),
                request_id=request_id,
            )
            served_version = str(result.version)
            encoded = encode(result, decoded)
            status = encoded.status
            sinks["out"].submit(
                PredictionRecord(
                    request_id=request_id,
                    prediction_ids=result.prediction_ids,
                    at=datetime.now(UTC),
                    model=name,
                    version=result.version,
                    protocol=protocol,
                    inputs=result.inputs if result.inputs is not None else decoded.frame,
                    predictions=result.predictions,
                    probabilities=result.probabilities,
                    latency_seconds=time.perf_counter() - started,
                    batch_rows=result.batch_rows,
                )
            )
            return _response(encoded, request_id)
        except ShipyardError as error:
            status = _status_of(error)
            if isinstance(error, ModelFailed):
                log.error("request %s to %s failed [error %s]", request_id, name, error.error_id)
            failed_version = _answering_version(engine, name, version)
            if failed_version is not None:  # not for a model or version this server does not serve
                served_version = str(failed_version)
                sinks["out"].submit_failure(
                    FailedRequest(
                        request_id=request_id,
                        at=datetime.now(UTC),
                        model=name,
                        version=failed_version,
                        protocol=protocol,
                        status=status,
                        error=_error_kind(error),
                        rows=rows,
                        latency_seconds=time.perf_counter() - started,
                        problems=contract_problems(error.problems)
                        if isinstance(error, RequestRejected)
                        else (),
                    )
                )
            encoded = encode_failure(error, request_id)
            response = _response(encoded, request_id)
            if isinstance(error, Overloaded):
                response.headers["retry-after"] = str(int(error.retry_after + 0.999))
            return response
        finally:
            elapsed = time.perf_counter() - started
            metrics.IN_FLIGHT.labels(name).dec()
            metrics.REQUESTS.labels(name, served_version, protocol, str(status)).inc()
            metrics.REQUEST_SECONDS.labels(name, protocol).observe(elapsed)
            access_log.info(
                "%s %s model=%s version=%s protocol=%s status=%d ms=%.2f prediction_id=%s",
                request.method,
                request.url.path,
                name,
                served_version,
                protocol,
                status,
                elapsed * 1000,
                request_id,
            )

    # -- native --------------------------------------------------------------------------------------------
    def native_failure(error: BaseException, request_id: str) -> EncodedResponse:
        if isinstance(error, RequestRejected):
            return native_codec.encode_rejection(error, request_id)
        return native_codec.encode_error(str(error), _status_of(error), request_id)

    async def native_predict(request: Request) -> Response:
        name = request.path_params["name"]
        return await predict(
            request, name, "native", native_codec.decode, native_codec.encode, native_failure
        )

    async def native_models(request: Request) -> Response:
        return JSONResponse(
            {
                "models": [
                    {
                        "name": name,
                        "follows": str(served.ref),
                        "version": served.current.version.version if served.current else None,
                        "ready": served.current is not None,
                        "error": served.last_error,
                    }
                    for name, served in engine.models.items()
                ]
            }
        )

    # -- MLflow --------------------------------------------------------------------------------------------
    def mlflow_failure(error: BaseException, request_id: str) -> EncodedResponse:
        if isinstance(error, InvalidInput):
            return mlflow_codec.encode_invalid_input(error)
        code = {404: "RESOURCE_DOES_NOT_EXIST", 503: "TEMPORARILY_UNAVAILABLE"}.get(
            _status_of(error), "INTERNAL_ERROR"
        )
        encoded = mlflow_codec.encode_error(str(error), code)
        return EncodedResponse(_status_of(error), encoded.body, encoded.headers)

    async def invocations(request: Request) -> Response:
        name = request.query_params.get("model") or request.headers.get("x-shipyard-model")
        if name is None:
            if len(engine.models) != 1:
                names = ", ".join(engine.models)
                message = f"this server serves several models ({names}); name one with ?model=NAME"
                return _response(mlflow_codec.encode_error(message), new_request_id())
            name = next(iter(engine.models))
        features = _feature_names(engine, name)
        content_type = request.headers.get("content-type")
        return await predict(
            request,
            name,
            "mlflow",
            lambda body: mlflow_codec.decode(body, content_type, features),
            mlflow_codec.encode,
            mlflow_failure,
        )

    async def ping(request: Request) -> Response:
        return _response(mlflow_codec.ping_response(engine.ready and not state["draining"]), "-")

    async def version(request: Request) -> Response:
        return _response(mlflow_codec.version_response(__version__), "-")

    # -- Open Inference Protocol ----------------------------------------------------------------------------
    def oip_failure(error: BaseException, request_id: str) -> EncodedResponse:
        status = _status_of(error)
        return oip_codec.encode_error(str(error), 400 if status == 422 else status)  # OIP has no 422

    async def oip_infer(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            version_number = _version_param(request.path_params.get("version"))
        except ShipyardError as error:
            return _response(oip_failure(error, "-"), "-")
        features = _feature_names(engine, name)
        headers = dict(request.headers)
        return await predict(
            request,
            name,
            "oip",
            lambda body: oip_codec.decode(body, headers, features),
            oip_codec.encode,
            oip_failure,
            version=version_number,
        )

    async def oip_server(request: Request) -> Response:
        return JSONResponse(oip_codec.server_metadata(__version__))

    async def oip_live(request: Request) -> Response:
        return JSONResponse({"live": True})

    async def oip_ready(request: Request) -> Response:
        ready = engine.ready and not state["draining"]
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    async def oip_model(request: Request) -> Response:
        try:
            slot = engine.slot(
                request.path_params["name"], _version_param(request.path_params.get("version"))
            )
        except ShipyardError as error:
            return JSONResponse({"error": str(error)}, status_code=_status_of(error))
        contract = slot.contract
        features = [(c.name, c.type) for c in contract.columns] if contract else []
        classes = slot.version.info.classes
        return JSONResponse(
            oip_codec.model_metadata(
                slot.name,
                [slot.version.version],
                slot.version.flavor,
                features,
                slot.task,
                len(classes) if classes else None,
                classes=classes,
            )
        )

    async def oip_model_ready(request: Request) -> Response:
        try:
            engine.slot(request.path_params["name"], _version_param(request.path_params.get("version")))
        except ShipyardError as error:
            return JSONResponse({"error": str(error)}, status_code=_status_of(error))
        return JSONResponse({"name": request.path_params["name"], "ready": True})

    # -- late ground truth ---------------------------------------------------------------------------------
    async def feedback(request: Request) -> Response:
        try:
            body = await read_body(request, config.max_body_bytes)
            pairs = feedback_pairs(parse_json(body))
        except ShipyardError as error:
            return JSONResponse({"error": str(error)}, status_code=_status_of(error))
        out = sinks["out"]
        if isinstance(out, LogWriter):
            await asyncio.to_thread(out.flush)  # this worker's newest predictions become findable at once
        report = await asyncio.to_thread(
            attach_labels,
            registry,
            prediction_log,
            pairs,
            source="api",
            settle_seconds=settings.log_flush_seconds + 1.0,
        )
        return JSONResponse(report.to_dict())

    # -- operations -----------------------------------------------------------------------------------------
    async def live(request: Request) -> Response:
        return JSONResponse({"live": True})

    async def ready(request: Request) -> Response:
        is_ready = engine.ready and not state["draining"]
        payload = {
            "ready": is_ready,
            "models": {
                name: {
                    "version": served.current.version.version if served.current else None,
                    "error": served.last_error,
                }
                for name, served in engine.models.items()
            },
        }
        return JSONResponse(payload, status_code=200 if is_ready else 503)

    async def prometheus(request: Request) -> Response:
        body, content_type = metrics.exposition()
        window = timedelta(seconds=config.monitor_window_seconds)
        points, alerts = await asyncio.to_thread(
            lambda: (
                {name: latest_points(registry, name, window) for name in engine.models},
                [alert for alert in current_alerts(registry) if alert["model"] in engine.models],
            )
        )
        return Response(
            body + metrics.monitor_exposition(points, window_label(window), alerts), media_type=content_type
        )

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document(list(engine.models), __version__))

    routes = [
        Route("/v1/models", native_models, methods=["GET"]),
        Route("/v1/models/{name}/predict", native_predict, methods=["POST"]),
        Route("/v1/feedback", feedback, methods=["POST"]),
        Route("/invocations", invocations, methods=["POST"]),
        Route("/ping", ping, methods=["GET"]),
        Route("/health", ping, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/health/live", live, methods=["GET"]),
        Route("/health/ready", ready, methods=["GET"]),
        Route("/v2", oip_server, methods=["GET"]),
        Route("/v2/health/live", oip_live, methods=["GET"]),
        Route("/v2/health/ready", oip_ready, methods=["GET"]),
        Route("/v2/models/{name}", oip_model, methods=["GET"]),
        Route("/v2/models/{name}/ready", oip_model_ready, methods=["GET"]),
        Route("/v2/models/{name}/infer", oip_infer, methods=["POST"]),
        Route("/v2/models/{name}/versions/{version}", oip_model, methods=["GET"]),
        Route("/v2/models/{name}/versions/{version}/ready", oip_model_ready, methods=["GET"]),
        Route("/v2/models/{name}/versions/{version}/infer", oip_infer, methods=["POST"]),
        Route("/metrics", prometheus, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    if config.api_token:
        app.add_middleware(BearerTokenMiddleware, token=config.api_token)
    app.state.engine = engine
    app.state.config = config
    return app


class BearerTokenMiddleware:
    """Every route but health, metrics and the OpenAPI document needs ``Authorization: Bearer <token>``."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_PUBLIC_PATHS):
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


def _answering_version(engine: Engine, name: str, version: int | None) -> int | None:
    """The version that answers (or would have answered) ``name``; None when this server does not serve it."""
    try:
        return engine.slot(name, version).version.version
    except ShipyardError:
        return None


#: Which of ``FAILURE_KINDS`` each error is (the first class that matches); anything else is "internal".
ERROR_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (RequestRejected, "rejected"),
    (BodyTooLarge, "too_large"),
    (UnsupportedMediaType, "unsupported_media_type"),
    (InvalidInput, "invalid"),
    (Overloaded, "overloaded"),
    (DeadlineExceeded, "timeout"),
    (ModelFailed, "model_error"),
)


def _error_kind(error: BaseException) -> str:
    """A short, stable name for why a request got no prediction (the ``error`` column of ``failures``)."""
    return next((kind for cls, kind in ERROR_KINDS if isinstance(error, cls)), "internal")


def _version_param(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit():
        raise InvalidInput(f"model version must be a whole number, got {value!r}")
    return int(value)


def _feature_names(engine: Engine, name: str) -> list[str] | None:
    try:
        slot = engine.slot(name)
    except ShipyardError:
        return None
    if slot.contract is not None:
        return slot.contract.names
    return slot.version.info.feature_names


async def _decode_off_loop(decode: Callable[[bytes], DecodedRequest], body: bytes) -> DecodedRequest:
    """Small bodies decode inline (a thread hop costs more); big ones off the event loop."""
    if len(body) < 64 * 1024:
        return decode(body)
    return await asyncio.to_thread(decode, body)
