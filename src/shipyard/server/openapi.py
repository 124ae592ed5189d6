"""The OpenAPI document of the inference server, written out route by route.

The routes are hand-written Starlette routes (for speed), so their description is too; a test checks that
every route of the app appears here and nothing else does, which keeps the document truthful. Each operation
lists every status it can answer, with the media type and a schema of the body it really sends: each
protocol writes its failures in its own shape (``encode_failure`` of its codec), MLflow refuses a media type
in plain text, the bearer middleware answers 401 in ``{"error"}``, and a shed request carries Retry-After.
Every answer of a prediction route names its prediction id (``X-Prediction-Id``) and, once the request was
routed, the arm of a rollout that answered it (``X-Shipyard-Arm``); a test checks both against responses.
"""

from __future__ import annotations

from typing import Any

from shipyard.numerals import MAX_INTEGER

_JSON = "application/json"
_TEXT = "text/plain"
_BINARY = "application/octet-stream"
_CSV = "text/csv"
_HTML = "text/html"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(required: list[str], properties: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties, **more}


_STRING = {"type": "string"}
_STRING_OR_NULL = {"type": ["string", "null"]}
_INTEGER_OR_NULL = {"type": ["integer", "null"]}
_BOOLEAN = {"type": "boolean"}
#: A prediction or a class label: a number, a text label, a boolean, or null for a missing value.
_LABEL = {"type": ["number", "string", "boolean", "null"]}
_TENSOR_SPEC = _object(
    ["name", "datatype", "shape"],
    {"name": _STRING, "datatype": _STRING, "shape": {"type": "array", "items": {"type": "integer"}}},
)

SCHEMAS: dict[str, Any] = {
    "Error": _object(["error"], {"error": _STRING}),
    "NativeError": _object(["error"], {"error": _STRING, "request_id": _STRING_OR_NULL}),
    "Rejection": _object(
        ["error", "problems", "request_id"],
        {
            "error": _STRING,
            "problems": {
                "type": "array",
                "items": _object(
                    ["row", "column", "problem", "value"],
                    {"row": {"type": "integer"}, "column": _STRING, "problem": _STRING, "value": _STRING},
                ),
            },
            "request_id": _STRING_OR_NULL,
        },
    ),
    "MlflowError": _object(["error_code", "message"], {"error_code": _STRING, "message": _STRING}),
    "NativePrediction": _object(
        ["model", "version", "request_id", "prediction_ids", "predictions"],
        {
            "model": _STRING,
            "version": {"type": "integer"},
            "request_id": _STRING,
            "prediction_ids": {"type": "array", "items": _STRING},
            "predictions": {"type": "array", "items": _LABEL},
            "probabilities": {
                "type": "array",
                "items": {"type": "array", "items": {"type": ["number", "null"]}},
            },
            "classes": {"type": "array", "items": _LABEL},
        },
    ),
    "MlflowPrediction": _object(["predictions"], {"predictions": {"type": "array"}}),
    "ModelList": _object(
        ["models"],
        {
            "models": {
                "type": "array",
                "items": _object(
                    ["name", "follows", "version", "ready", "error"],
                    {
                        "name": _STRING,
                        "follows": _STRING,
                        "version": _INTEGER_OR_NULL,
                        "ready": _BOOLEAN,
                        "error": _STRING_OR_NULL,
                    },
                ),
            }
        },
    ),
    "FeedbackReport": _object(
        ["received", "problems", "problems_left_out"],
        {
            "received": {"type": "integer"},
            "problems": {
                "type": "array",
                "items": _object(
                    ["row", "prediction_id", "status"],
                    {"row": {"type": "integer"}, "prediction_id": {}, "status": _STRING, "message": _STRING},
                ),
            },
            "problems_left_out": {"type": "integer"},
        },
        additionalProperties={"type": "integer"},  # one count per label status
    ),
    "Live": _object(["live"], {"live": _BOOLEAN}),
    "Ready": _object(["ready"], {"ready": _BOOLEAN}),
    "ServerReadiness": _object(
        ["ready", "models"],
        {
            "ready": _BOOLEAN,
            "models": {
                "type": "object",
                "additionalProperties": _object(
                    ["version", "error"],
                    {
                        "version": _INTEGER_OR_NULL,
                        "error": _STRING_OR_NULL,
                        "rollout": {"oneOf": [{"type": "null"}, _ref("Rollout")]},
                    },
                ),
            },
        },
    ),
    "Rollout": _object(
        ["rollout_id", "stable", "candidate", "candidate_share", "shadow", "key", "arm"],
        {
            "rollout_id": {"type": ["string", "integer"]},
            "stable": {"type": "integer"},
            "candidate": {"type": "integer"},
            "candidate_share": {"type": "number", "minimum": 0, "maximum": 1},
            "shadow": _BOOLEAN,
            "key": _STRING_OR_NULL,
            "arm": {"type": "string", "enum": ["canary", "shadow"]},
        },
        description="the rollout a worker routes a model by: its split, and the arm its candidate answers as",
    ),
    "OipServer": _object(
        ["name", "version", "extensions"],
        {"name": _STRING, "version": _STRING, "extensions": {"type": "array", "items": _STRING}},
    ),
    "OipModel": _object(
        ["name", "versions", "platform", "inputs", "outputs"],
        {
            "name": _STRING,
            "versions": {"type": "array", "items": _STRING},
            "platform": _STRING,
            "inputs": {"type": "array", "items": _TENSOR_SPEC},
            "outputs": {"type": "array", "items": _TENSOR_SPEC},
        },
    ),
    "OipModelReady": _object(["name", "ready"], {"name": _STRING, "ready": _BOOLEAN}),
    "OipInference": _object(
        ["model_name", "model_version", "id", "outputs"],
        {
            "model_name": _STRING,
            "model_version": _STRING,
            "id": _STRING,
            "parameters": {"type": "object"},
            "outputs": {
                "type": "array",
                "items": {
                    **_TENSOR_SPEC,
                    "properties": {
                        **_TENSOR_SPEC["properties"],
                        "data": {"type": "array"},
                        "parameters": {"type": "object"},
                    },
                },
            },
        },
    ),
}

#: What each failure status means, whichever protocol writes it.
_MEANING = {
    "400": "the request cannot be read (malformed body, wrong shape or types, a bad version number)",
    "401": "a bearer token is configured and the request has none or a wrong one",
    "404": "unknown model, or the model does not serve that version",
    "413": "the body, or the body once decompressed, is larger than the server accepts (--max-body-mb)",
    "415": "a Content-Type or Content-Encoding this route does not read",
    "422": "rows break the data contract: row, column and problem for each",
    "500": "the server or the model failed; a model's failure carries an error id found in the server log",
    "503": "overloaded (retry after the Retry-After header's seconds) or shutting down",
    "504": "the request waited past its deadline",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before retrying, when the queue was full",
        "schema": {"type": "integer"},
    }
}


#: The headers of every answer of a prediction route, whatever the protocol.
_PREDICTION_HEADERS = {
    "X-Prediction-Id": {
        "description": "the request's id; each row's prediction id is <this id>-<row>",
        "schema": {"type": "string"},
    },
    "X-Shipyard-Arm": {
        "description": "which arm answered: stable, or canary (the candidate of a rollout); on a failure, "
        "present once the request was routed to an arm",
        "schema": {"type": "string", "enum": ["stable", "canary"]},
    },
}


def _prediction_answers(responses: dict[str, Any]) -> dict[str, Any]:
    """``responses`` of a prediction route, each with the prediction headers beside its own (but the 401
    of the bearer middleware, which answers before any route)."""
    return {
        code: answer
        if code == "401"
        else {**answer, "headers": {**_PREDICTION_HEADERS, **answer.get("headers", {})}}
        for code, answer in responses.items()
    }


def _answer(
    description: str, schema: dict[str, Any] | None = None, media_type: str = _JSON
) -> dict[str, Any]:
    """A response of ``media_type``; ``schema`` describes its body (none for a body that is not JSON)."""
    return {"description": description, "content": {media_type: {"schema": schema} if schema else {}}}


def _failures(codes: str, schema: str, *, media_type: str = _JSON) -> dict[str, Any]:
    """The failure responses ``codes`` (space-separated statuses) of a route whose failures are ``schema``;
    401 always comes from the bearer middleware as ``{"error"}``."""
    answers: dict[str, Any] = {}
    for code in codes.split():
        body = _ref("Error") if code == "401" else _ref(schema)
        answers[code] = _answer(_MEANING[code], body, media_type)
        if code == "503":
            answers[code]["headers"] = _RETRY_AFTER
    return answers


#: The statuses a prediction route answers besides 200, 415 and 422 (whose shapes differ by protocol).
_PREDICTION_FAILURES = "400 401 404 413 500 503 504"


def _json_body(description: str, example: Any, *more: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    content: dict[str, Any] = {_JSON: {"schema": {}, "example": example}}
    content.update(dict(more))
    return {"required": True, "description": description, "content": content}


def openapi_document(models: list[str], version: str) -> dict[str, Any]:
    """The document for a server of ``models``, protocol by protocol, in the order the routes are listed."""
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "enum": models}}
    number = {
        "name": "version",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER},
    }
    paths = {
        **_native_paths(name),
        **_mlflow_paths(),
        **_health_paths(),
        **_oip_paths(name, number),
        **_operations_paths(),
        **_page_paths(),
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "shipyard inference server", "version": version},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }


#: Routes open without a token (the bearer middleware's public paths) say so with an empty requirement.
_PUBLIC: dict[str, Any] = {"security": []}
_EXAMPLE_RECORD = {"amount": 12.5, "channel": "web"}


def _native_paths(name: dict[str, Any]) -> dict[str, Any]:
    """shipyard's own JSON protocol and late labels."""
    return {
        "/v1/models": {
            "get": {
                "summary": "Served models and the versions answering",
                "responses": {"200": _answer("ok", _ref("ModelList")), **_failures("401", "Error")},
            }
        },
        "/v1/models/{name}/predict": {
            "post": {
                "summary": "Predict with shipyard's JSON protocol",
                "parameters": [name],
                "requestBody": _json_body(
                    "records or columns", {"records": [_EXAMPLE_RECORD], "return_proba": True}
                ),
                "responses": _prediction_answers(
                    {
                        "200": _answer(
                            "predictions, probabilities, the version, prediction ids",
                            _ref("NativePrediction"),
                        ),
                        "422": _answer(_MEANING["422"], _ref("Rejection")),
                        **_failures(f"{_PREDICTION_FAILURES} 415", "NativeError"),
                    }
                ),
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
                        "each unknown or invalid row with the reason",
                        _ref("FeedbackReport"),
                    ),
                    **_failures("400 401 413 415 500 503", "Error"),
                },
            }
        },
    }


def _mlflow_paths() -> dict[str, Any]:
    """MLflow's scoring route: failures as MLflow writes them, a refused media type in plain text."""
    return {
        "/invocations": {
            "post": {
                "summary": "Predict with MLflow's scoring protocol "
                "(dataframe_split, dataframe_records, instances, inputs, or text/csv)",
                "parameters": [
                    {"name": "model", "in": "query", "required": False, "schema": {"type": "string"}}
                ],
                "requestBody": _json_body(
                    "MLflow's formats",
                    {"dataframe_records": [_EXAMPLE_RECORD]},
                    (_CSV, {"schema": {"type": "string"}, "example": "amount,channel\n12.5,web\n"}),
                ),
                "responses": _prediction_answers(
                    {
                        "200": _answer('{"predictions": [...]}', _ref("MlflowPrediction")),
                        "415": _answer(_MEANING["415"], {"type": "string"}, _TEXT),
                        **_failures(_PREDICTION_FAILURES, "MlflowError"),
                    }
                ),
            }
        },
    }


def _health_paths() -> dict[str, Any]:
    """Health and version, MLflow's and shipyard's. MLflow's answer bodies are not JSON ("\\n", the bare
    version) although MLflow serves them as application/json, so they have no schema."""
    mlflow_health = {
        "get": {
            **_PUBLIC,
            "summary": "MLflow health: 200 when every model is ready, 503 while loading or shutting down",
            "responses": {"200": _answer("ready"), "503": _answer("not ready")},
        }
    }
    return {
        "/ping": mlflow_health,
        "/health": mlflow_health,
        "/version": {
            "get": {**_PUBLIC, "summary": "shipyard's version", "responses": {"200": _answer("version")}}
        },
        "/health/live": {
            "get": {**_PUBLIC, "summary": "Liveness", "responses": {"200": _answer("alive", _ref("Live"))}}
        },
        "/health/ready": {
            "get": {
                **_PUBLIC,
                "summary": "Readiness: every model loaded and warm",
                "responses": {
                    "200": _answer("ready", _ref("ServerReadiness")),
                    "503": _answer(
                        "not ready: loading, failed to load, or shutting down", _ref("ServerReadiness")
                    ),
                },
            }
        },
    }


def _oip_paths(name: dict[str, Any], number: dict[str, Any]) -> dict[str, Any]:
    """The Open Inference Protocol: failures are ``{"error"}``, a contract rejection a 400."""

    def metadata(summary: str, schema: str, *parameters: dict[str, Any]) -> dict[str, Any]:
        failures = "400 401 404 500" if number in parameters else "401 404 500"
        return {
            "get": {
                "summary": summary,
                "parameters": list(parameters),
                "responses": {"200": _answer("ok", _ref(schema)), **_failures(failures, "Error")},
            }
        }

    def infer(summary: str, *parameters: dict[str, Any]) -> dict[str, Any]:
        return {
            "post": {
                "summary": summary,
                "parameters": list(parameters),
                "requestBody": _json_body(
                    "inputs as tensors; with Inference-Header-Content-Length, binary tensors after the JSON",
                    {"inputs": [{"name": "amount", "shape": [1], "datatype": "FP64", "data": [12.5]}]},
                    (_BINARY, {"schema": {"type": "string", "format": "binary"}}),
                ),
                "responses": _prediction_answers(
                    {
                        "200": {
                            "description": "outputs predict and predict_proba; "
                            "binary outputs follow the JSON",
                            "content": {
                                _JSON: {"schema": _ref("OipInference")},
                                _BINARY: {"schema": {"type": "string", "format": "binary"}},
                            },
                        },
                        **_failures(f"{_PREDICTION_FAILURES} 415", "Error"),
                    }
                ),
            }
        }

    return {
        "/v2": {
            "get": {
                "summary": "Open Inference Protocol: server metadata",
                "responses": {"200": _answer("ok", _ref("OipServer")), **_failures("401", "Error")},
            }
        },
        "/v2/health/live": {
            "get": {
                **_PUBLIC,
                "summary": "Open Inference Protocol: liveness",
                "responses": {"200": _answer('{"live": true}', _ref("Live"))},
            }
        },
        "/v2/health/ready": {
            "get": {
                **_PUBLIC,
                "summary": "Open Inference Protocol: readiness",
                "responses": {
                    "200": _answer('{"ready": true}', _ref("Ready")),
                    "503": _answer(
                        '{"ready": false}: loading, failed to load, or shutting down', _ref("Ready")
                    ),
                },
            }
        },
        "/v2/models/{name}": metadata("Model metadata", "OipModel", name),
        "/v2/models/{name}/ready": metadata("Model readiness", "OipModelReady", name),
        "/v2/models/{name}/infer": infer(
            "Open Inference Protocol inference (JSON, or Triton's binary tensor extension)", name
        ),
        "/v2/models/{name}/versions/{version}": metadata("Model version metadata", "OipModel", name, number),
        "/v2/models/{name}/versions/{version}/ready": metadata(
            "Model version readiness", "OipModelReady", name, number
        ),
        "/v2/models/{name}/versions/{version}/infer": infer(
            "Open Inference Protocol inference on a given version", name, number
        ),
    }


def _operations_paths() -> dict[str, Any]:
    """What operators scrape and read."""
    return {
        "/metrics": {
            "get": {
                **_PUBLIC,
                "summary": "Prometheus metrics (all workers)",
                "responses": {
                    "200": _answer("Prometheus text exposition", {"type": "string"}, _TEXT),
                    **_failures("500", "Error"),
                },
            }
        },
        "/openapi.json": {
            "get": {
                **_PUBLIC,
                "summary": "This document",
                "responses": {"200": _answer("OpenAPI 3.1", {"type": "object"})},
            }
        },
    }


def _page_paths() -> dict[str, Any]:
    """The pages a person opens in a browser, and the two Swagger UI files ``/docs`` loads from here."""

    def page(summary: str, media_type: str = _HTML) -> dict[str, Any]:
        schema = {"type": "string"}
        return {
            "get": {**_PUBLIC, "summary": summary, "responses": {"200": _answer("ok", schema, media_type)}}
        }

    return {
        "/": page("Links to the API page, this document, the models, readiness and the metrics"),
        "/docs": page("The API page: this document drawn by Swagger UI, served from this server"),
        "/docs/swagger-ui.css": page("Swagger UI's style sheet, for /docs", "text/css"),
        "/docs/swagger-ui-bundle.js": page("Swagger UI's script, for /docs", "text/javascript"),
    }
