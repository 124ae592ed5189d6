"""The OpenAPI document of the inference server, written out route by route.

The routes are hand-written Starlette routes (for speed), so their description is too; a test checks that
every route of the app appears here and nothing else does, which keeps the document truthful.
"""

from __future__ import annotations

from typing import Any

_JSON = "application/json"


def _json_body(description: str, example: Any) -> dict[str, Any]:
    return {"required": True, "description": description, "content": {_JSON: {"example": example}}}


def _answer(description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {}}}


_ERRORS = {
    "400": _answer("the body cannot be read (malformed JSON, wrong shape, wrong types)"),
    "401": _answer("a bearer token is configured and the request has none or a wrong one"),
    "404": _answer("unknown model or version"),
    "413": _answer("the body is larger than the server accepts"),
    "503": _answer("overloaded: retry after the Retry-After header's seconds"),
    "504": _answer("the request waited past its deadline"),
    "500": _answer("the model failed; the body carries an error id found in the server log"),
}


def openapi_document(models: list[str], version: str) -> dict[str, Any]:
    """The document for a server of ``models``, protocol by protocol, in the order the routes are listed."""
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "enum": models}}
    number = {"name": "version", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
    paths = {
        **_native_paths(name),
        **_mlflow_paths(),
        **_health_paths(),
        **_oip_paths(name, number),
        **_operations_paths(),
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "shipyard inference server", "version": version},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    }


_EXAMPLE_RECORD = {"amount": 12.5, "channel": "web"}


def _native_paths(name: dict[str, Any]) -> dict[str, Any]:
    """shipyard's own JSON protocol and late labels."""
    return {
        "/v1/models": {
            "get": {
                "summary": "Served models and the versions answering",
                "responses": {"200": _answer("ok")},
            }
        },
        "/v1/models/{name}/predict": {
            "post": {
                "summary": "Predict with shipyard's JSON protocol",
                "parameters": [name],
                "requestBody": _json_body(
                    "records or columns", {"records": [_EXAMPLE_RECORD], "return_proba": True}
                ),
                "responses": {
                    "200": _answer("predictions, probabilities, the version, prediction ids"),
                    "422": _answer("rows break the data contract: row, column, problem for each"),
                    **_ERRORS,
                },
            }
        },
        "/v1/feedback": {
            "post": {
                "summary": "Attach true labels to earlier predictions by prediction id",
                "requestBody": _json_body(
                    "labels, each with the prediction id it belongs to",
                    {"labels": [{"prediction_id": "<id from a prediction answer>", "label": 1}]},
                ),
                "responses": {
                    "200": _answer(
                        "per status counts (attached, duplicate, updated, unknown, invalid) and "
                        "each unknown or invalid row with the reason"
                    ),
                    **{code: answer for code, answer in _ERRORS.items() if code in ("400", "401", "413")},
                },
            }
        },
    }


def _mlflow_paths() -> dict[str, Any]:
    """MLflow's scoring route."""
    return {
        "/invocations": {
            "post": {
                "summary": "Predict with MLflow's scoring protocol "
                "(dataframe_split, dataframe_records, instances, inputs, or text/csv)",
                "parameters": [
                    {"name": "model", "in": "query", "required": False, "schema": {"type": "string"}}
                ],
                "requestBody": _json_body("MLflow's formats", {"dataframe_records": [_EXAMPLE_RECORD]}),
                "responses": {
                    "200": _answer('{"predictions": [...]}'),
                    "415": _answer("unsupported media type"),
                    **_ERRORS,
                },
            }
        },
    }


def _health_paths() -> dict[str, Any]:
    """Health and version, MLflow's and shipyard's."""
    return {
        "/ping": {
            "get": {"summary": "MLflow health: 200 when ready", "responses": {"200": _answer("ready")}}
        },
        "/health": {
            "get": {"summary": "MLflow health: 200 when ready", "responses": {"200": _answer("ready")}}
        },
        "/version": {"get": {"summary": "shipyard's version", "responses": {"200": _answer("version")}}},
        "/health/live": {"get": {"summary": "Liveness", "responses": {"200": _answer("alive")}}},
        "/health/ready": {
            "get": {
                "summary": "Readiness: every model loaded and warm",
                "responses": {"200": _answer("ready"), "503": _answer("not ready")},
            }
        },
    }


def _oip_paths(name: dict[str, Any], number: dict[str, Any]) -> dict[str, Any]:
    """The Open Inference Protocol."""
    get = {"get": {"responses": {"200": _answer("ok")}}}
    return {
        "/v2": {
            "get": {
                "summary": "Open Inference Protocol: server metadata",
                "responses": {"200": _answer("ok")},
            }
        },
        "/v2/health/live": {
            "get": {
                "summary": "Open Inference Protocol: liveness",
                "responses": {"200": _answer('{"live": true}')},
            }
        },
        "/v2/health/ready": {
            "get": {
                "summary": "Open Inference Protocol: readiness",
                "responses": {"200": _answer('{"ready": true}')},
            }
        },
        "/v2/models/{name}": {"get": {**get["get"], "summary": "Model metadata", "parameters": [name]}},
        "/v2/models/{name}/ready": {
            "get": {**get["get"], "summary": "Model readiness", "parameters": [name]}
        },
        "/v2/models/{name}/infer": {
            "post": {
                "summary": "Open Inference Protocol inference (JSON, or Triton's binary tensor extension)",
                "parameters": [name],
                "requestBody": _json_body(
                    "inputs as tensors",
                    {"inputs": [{"name": "amount", "shape": [1], "datatype": "FP64", "data": [12.5]}]},
                ),
                "responses": {"200": _answer("outputs predict and predict_proba"), **_ERRORS},
            }
        },
        "/v2/models/{name}/versions/{version}": {
            "get": {**get["get"], "summary": "Model version metadata", "parameters": [name, number]}
        },
        "/v2/models/{name}/versions/{version}/ready": {
            "get": {**get["get"], "summary": "Model version readiness", "parameters": [name, number]}
        },
        "/v2/models/{name}/versions/{version}/infer": {
            "post": {
                "summary": "Open Inference Protocol inference on a given version",
                "parameters": [name, number],
                "requestBody": _json_body("inputs as tensors", {"inputs": []}),
                "responses": {"200": _answer("outputs"), **_ERRORS},
            }
        },
    }


def _operations_paths() -> dict[str, Any]:
    """What operators scrape and read."""
    return {
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (all workers)",
                "responses": {"200": {"description": "text"}},
            }
        },
        "/openapi.json": {"get": {"summary": "This document", "responses": {"200": _answer("OpenAPI 3.1")}}},
    }
