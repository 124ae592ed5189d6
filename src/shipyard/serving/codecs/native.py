"""shipyard's own JSON protocol: ``POST /v1/models/{name}/predict``.

The protocol shipyard's clients and docs use. It is the only one that returns what shipyard knows beyond the
prediction itself — the version that answered, the request id and one id per row (what late ground truth is
attached to) — and the only one that answers a contract violation with the row, column and value at fault.

Request bodies (JSON, whatever the Content-Type):

- ``{"records": [{"col": value, ...}, ...]}`` — one object per row; a key missing from a row is null;
- ``{"columns": {"col": [value, ...], ...}}`` — one list per column, all the same length;
- ``[{"col": value, ...}, ...]`` — a bare list of records;

with an optional ``"return_proba": true | false`` next to ``records`` or ``columns`` (default true; only
classifiers with probabilities ever return them).

Responses: 200 with ``{"model", "version", "request_id", "prediction_ids", "predictions",
"probabilities"?, "classes"?}``; 422 from ``encode_rejection`` when rows break the contract; ``encode_error``
for everything else (``{"error", "request_id"}``); ``encode_failure`` chooses between the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import ContractViolation, InvalidInput
from shipyard.serving.codecs import (
    ColumnRule,
    EncodedResponse,
    common_length,
    describe,
    frame_from_columns,
    frame_from_records,
    json_response,
    name_list,
    parse_json,
    quoted,
    selected,
)
from shipyard.serving.results import DecodedRequest, PredictionResult, to_plain

ROUTE = "/v1/models/{name}/predict"
MODELS_ROUTE = "/v1/models"
FEEDBACK_ROUTE = "/v1/feedback"
#: A rejection lists at most this many problems; the message still says how many there were.
MAX_PROBLEMS = 50
_KEYS = ("records", "columns", "return_proba")


def decode(
    body: bytes,
    feature_names: Sequence[str] | None = None,
    *,
    extra_columns: str = "keep",
    max_rows: int | None = None,
) -> DecodedRequest:
    """Decode a native JSON body into the rows to predict; ``options["want_proba"]`` echoes return_proba.

    Columns outside ``feature_names`` (the model's inputs, when known) are dropped, refused or kept as
    ``extra_columns`` (the contract's policy) says; more than ``max_rows`` rows is a 413.
    """
    rule = ColumnRule(feature_names, extra_columns, max_rows)
    payload = parse_json(body)
    if isinstance(payload, list):
        return DecodedRequest(frame_from_records(payload, rule=rule), options={"want_proba": True})
    if not isinstance(payload, dict):
        raise InvalidInput(
            f"the body is {describe(payload)}; send an object with 'records' or 'columns', "
            "or a list of records"
        )
    unknown = [key for key in payload if key not in _KEYS]
    if unknown:
        raise InvalidInput(
            f"the body has unknown keys ({name_list(unknown)}); the keys are records or columns, "
            "and optionally return_proba"
        )
    want_proba = payload.get("return_proba", True)
    if not isinstance(want_proba, bool):
        raise InvalidInput(f"'return_proba' is {describe(want_proba)}; send true or false")
    if ("records" in payload) == ("columns" in payload):
        raise InvalidInput("the body must have exactly one of the keys 'records' and 'columns'")
    if "records" in payload:
        records = payload["records"]
        if not isinstance(records, list):
            raise InvalidInput(f"'records' is {describe(records)}; send a list of objects, one per row")
        frame = frame_from_records(records, rule=rule)
    else:
        frame = _frame_from_column_lists(payload["columns"], rule)
    return DecodedRequest(frame, options={"want_proba": want_proba})


def _frame_from_column_lists(columns: Any, rule: ColumnRule) -> pd.DataFrame:
    if not isinstance(columns, dict):
        raise InvalidInput(f"'columns' is {describe(columns)}; send an object mapping each column to a list")
    columns = selected(columns, rule)
    for name, values in columns.items():
        if not isinstance(values, list):
            raise InvalidInput(
                f"column {quoted(name)} is {describe(values)}; send a list of values, one per row"
            )
    rows = common_length(columns)
    rule.check_rows(rows)
    return frame_from_columns(columns, rows)


def encode(result: PredictionResult, request: DecodedRequest) -> EncodedResponse:
    """The 200 response: predictions with their ids, and probabilities with their classes when asked for."""
    payload: dict[str, Any] = {
        "model": result.model,
        "version": result.version,
        "request_id": result.request_id,
        "prediction_ids": result.prediction_ids,
        "predictions": to_plain(np.asarray(result.predictions)),
    }
    if result.probabilities is not None and request.options.get("want_proba", True):
        # orjson writes NaN as null, so the plain float lists need no per-value pass
        payload["probabilities"] = np.asarray(result.probabilities, dtype=np.float64).tolist()
        if result.classes is not None:
            payload["classes"] = to_plain(np.asarray(result.classes))
    return json_response(payload)


def encode_rejection(error: ContractViolation, request_id: str) -> EncodedResponse:
    """The 422 response for rows that break the contract: which row, column and value, at most 50 of them."""
    problems = [asdict(problem) for problem in error.problems[:MAX_PROBLEMS]]
    return json_response({"error": str(error), "problems": problems, "request_id": request_id}, status=422)


def encode_error(message: str, status: int = 400, request_id: str | None = None) -> EncodedResponse:
    """Any other error: ``{"error": message, "request_id": id}`` with ``status``."""
    return json_response({"error": message, "request_id": request_id}, status=status)


def encode_failure(error: BaseException, status: int, request_id: str) -> EncodedResponse:
    """The failure response: the contract's problems for a rejection, the message for anything else."""
    if isinstance(error, ContractViolation):
        return encode_rejection(error, request_id)
    return encode_error(str(error), status, request_id)
