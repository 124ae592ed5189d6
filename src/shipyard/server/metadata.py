"""What the server serves, as each protocol asks: shipyard's model list and the Open Inference Protocol's
server, model and readiness documents."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shipyard._version import __version__
from shipyard.server.calls import server_of, speak
from shipyard.server.inference import version_param
from shipyard.serving.codecs import native as native_codec
from shipyard.serving.codecs import oip as oip_codec


async def native_models(request: Request) -> Response:
    engine = server_of(request).engine
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


async def oip_server(request: Request) -> Response:
    return JSONResponse(oip_codec.server_metadata(__version__))


async def oip_live(request: Request) -> Response:
    return JSONResponse({"live": True})


async def oip_ready(request: Request) -> Response:
    ready = server_of(request).ready
    return JSONResponse({"ready": ready}, status_code=200 if ready else 503)


async def oip_model(request: Request) -> Response:
    speak(request, oip_codec.encode_failure)
    slot = server_of(request).engine.slot(
        request.path_params["name"], version_param(request.path_params.get("version"))
    )
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
    speak(request, oip_codec.encode_failure)
    name = request.path_params["name"]
    server_of(request).engine.slot(name, version_param(request.path_params.get("version")))
    return JSONResponse({"name": name, "ready": True})


ROUTES = [
    Route(native_codec.MODELS_ROUTE, native_models, methods=["GET"]),
    Route(oip_codec.SERVER_ROUTE, oip_server, methods=["GET"]),
    Route(oip_codec.LIVE_ROUTE, oip_live, methods=["GET"]),
    Route(oip_codec.READY_ROUTE, oip_ready, methods=["GET"]),
    *(Route(path, oip_model, methods=["GET"]) for path in oip_codec.MODEL_ROUTES),
    *(Route(path, oip_model_ready, methods=["GET"]) for path in oip_codec.MODEL_READY_ROUTES),
]
