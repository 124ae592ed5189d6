"""MLflow's scoring protocol, as ``mlflow models serve`` (MLflow 2.x and 3.x) speaks it.

A client, script or platform written against an MLflow model server — ``POST /invocations``, ``GET /ping``,
``/health`` and ``/version`` — works against shipyard unchanged. The rules below follow MLflow's own scoring
server (``mlflow/pyfunc/scoring_server``):

- The Content-Type decides the parser: ``application/json`` or ``text/csv``. Parameters other than
  ``charset=utf-8`` are refused, as is any other or missing type; MLflow answers those with 415 and a
  ``text/plain`` message (``UnsupportedMediaType`` here, ``encode_invalid_input`` writes it).
- A JSON body is an object with exactly one of ``dataframe_split``, ``dataframe_records``, ``instances`` and
  ``inputs``, plus an optional ``params`` object. Like MLflow, other keys are ignored.
- ``instances`` and ``inputs`` hold rows (objects → named columns; lists or single values → positional
  columns, named by the model's feature names) or, as an object, one list per column.
- The answer is ``{"predictions": [...]}`` — labels for a classifier, as MLflow's pyfunc wrapper of a
  scikit-learn classifier returns. Errors are ``{"error_code": "BAD_REQUEST", "message": ...}`` with 400.
- ``/ping`` and ``/health`` answer 200 with a body of ``"\\n"``; ``/version`` answers the bare version text.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from shipyard._version import __version__
from shipyard.errors import ContractViolation, InvalidInput
from shipyard.serving.codecs import (
    JSON_MEDIA_TYPE,
    ColumnRule,
    EncodedResponse,
    UnsupportedMediaType,
    common_length,
    describe,
    frame_from_columns,
    frame_from_records,
    json_response,
    name_list,
    parse_json,
    quoted,
    require_rows,
    selected,
)
from shipyard.serving.results import DecodedRequest, PredictionResult, to_plain

INVOCATIONS_ROUTE = "/invocations"
HEALTH_ROUTES = ("/ping", "/health")
VERSION_ROUTE = "/version"

CONTENT_TYPE_JSON = "application/json"
CONTENT_TYPE_CSV = "text/csv"
CONTENT_TYPES = (CONTENT_TYPE_CSV, CONTENT_TYPE_JSON)

DATAFRAME_SPLIT = "dataframe_split"
DATAFRAME_RECORDS = "dataframe_records"
INSTANCES = "instances"
INPUTS = "inputs"
#: The keys of a JSON body, in MLflow's documentation order.
FORMATS = (DATAFRAME_SPLIT, DATAFRAME_RECORDS, INSTANCES, INPUTS)
PARAMS = "params"

#: MLflow's error codes and the HTTP status its server answers them with (mlflow.exceptions).
ERROR_STATUS = {
    "BAD_REQUEST": 400,
    "INVALID_PARAMETER_VALUE": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "INTERNAL_ERROR": 500,
    "INVALID_STATE": 500,
    "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503,
}

_SPLIT_KEYS = ("columns", "data", "index")


def decode(
    body: bytes,
    content_type: str | None,
    feature_names: Sequence[str] | None = None,
    *,
    extra_columns: str = "keep",
    max_rows: int | None = None,
) -> DecodedRequest:
    """Decode an ``/invocations`` body into rows.

    ``feature_names`` (the model's inputs, in order) name positional columns — rows sent as lists; without
    them positional columns are named "0", "1", …. Named columns outside them are dropped, refused or kept
    as ``extra_columns`` (the contract's policy) says. ``options`` holds ``format`` (the JSON key or "csv"),
    ``params`` (the request's ``params`` object, or None) and ``want_proba`` (always False: the response
    carries labels only). More than ``max_rows`` rows is a 413, refused before the frame is built.
    """
    rule = ColumnRule(feature_names, extra_columns, max_rows)
    media_type = _media_type(content_type)
    if media_type == CONTENT_TYPE_CSV:
        return DecodedRequest(_frame_from_csv(body, rule), text_input=True, options=_options("csv", None))
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise InvalidInput(
            f"the body is {describe(payload)}; it must be a JSON object with exactly one of the keys "
            f"{', '.join(FORMATS)}"
        )
    present = [key for key in FORMATS if key in payload]
    if len(present) != 1:
        got = f"it has {name_list(present)}" if present else f"its keys are: {name_list(payload) or 'none'}"
        raise InvalidInput(f"the body must have exactly one of the keys {', '.join(FORMATS)}; {got}")
    key = present[0]
    params = payload.get(PARAMS)
    if params is not None and not isinstance(params, dict):
        raise InvalidInput(f"'params' is {describe(params)}; send an object of parameter names and values")
    value = payload[key]
    if key == DATAFRAME_SPLIT:
        frame = _frame_from_split(value, rule)
    elif key == DATAFRAME_RECORDS:
        if not isinstance(value, list):
            raise InvalidInput(
                f"'dataframe_records' is {describe(value)}; send a list of records, one per row"
            )
        frame = _frame_from_rows(value, rule, key)
    elif isinstance(value, dict):
        frame = _frame_from_tensor_columns(selected(value, rule), key, rule)
    elif isinstance(value, list):
        frame = _frame_from_rows(value, rule, key)
    else:
        raise InvalidInput(
            f"{key!r} is {describe(value)}; send a list of rows or an object mapping columns to lists"
        )
    return DecodedRequest(frame, options=_options(key, params))


def _options(source: str, params: dict[str, Any] | None) -> dict[str, Any]:
    return {"format": source, "params": params, "want_proba": False}


def _media_type(content_type: str | None) -> str:
    accepted = f"send Content-Type {CONTENT_TYPE_JSON} or {CONTENT_TYPE_CSV}"
    if not content_type or not content_type.strip():
        raise UnsupportedMediaType(f"the request has no Content-Type; {accepted}")
    media_type, *parameters = (part.strip() for part in content_type.split(";"))
    for parameter in filter(None, parameters):  # "application/json;" has an empty parameter
        name, _, value = parameter.partition("=")
        name = name.strip().lower()
        value = value.strip().strip('"').lower()
        if name != "charset":
            raise UnsupportedMediaType(
                f"the Content-Type parameter {name[:40]!r} is not supported; only charset=utf-8 is"
            )
        if value not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(f"the charset {value[:40]!r} is not supported; send UTF-8 text")
    media_type = media_type.lower()
    if media_type not in CONTENT_TYPES:
        raise UnsupportedMediaType(f"Content-Type {media_type[:100]!r} is not supported; {accepted}")
    return media_type


def _frame_from_csv(body: bytes, rule: ColumnRule) -> pd.DataFrame:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(
            f"the CSV body is not valid UTF-8 (at byte {error.start}); send UTF-8 text"
        ) from None
    if not text.strip():
        require_rows(0)
    kept = rule.kept(_csv_header(text))
    try:
        frame = pd.read_csv(
            io.StringIO(text), low_memory=False, usecols=None if kept is None else set(kept).__contains__
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        first_line = (str(error).splitlines() or ["no detail"])[0]
        raise InvalidInput(
            f"the CSV body could not be parsed: {first_line}; send a header line, then one line per row"
        ) from None
    if not isinstance(frame.index, pd.RangeIndex):
        # pandas turns the leading fields of rows longer than the header into an index, shifting every
        # value one column over; MLflow passes that on silently, we refuse it
        raise InvalidInput(
            f"the CSV rows have more fields than the header's {len(frame.columns)} names; "
            "send one header name per field"
        )
    rule.check_rows(len(frame))
    frame.columns = pd.Index([str(name) for name in frame.columns])
    return frame


def _csv_header(text: str) -> list[str]:
    """The CSV's column names as written, refusing one named twice: pandas would rename the second "a.1"
    where a JSON request naming a column twice is refused. (The csv module reads the one line; pandas would
    build a column per name to read it.)"""
    try:
        names = next((row for row in csv.reader(io.StringIO(text)) if row), [])
    except csv.Error as error:
        raise InvalidInput(
            f"the CSV header could not be parsed: {error}; send a header line, then one line per row"
        ) from None
    duplicated = [name for name, count in Counter(names).items() if count > 1]
    if duplicated:
        raise InvalidInput(
            f"the CSV header names {name_list(duplicated)} more than once; name each column once"
        )
    return names


def _frame_from_split(split: Any, rule: ColumnRule) -> pd.DataFrame:
    if not isinstance(split, dict):
        raise InvalidInput(
            f"'dataframe_split' is {describe(split)}; send an object with 'data' and optionally 'columns' "
            "and 'index'"
        )
    unknown = [key for key in split if key not in _SPLIT_KEYS]
    if unknown or "data" not in split:
        problem = f"unknown keys ({name_list(unknown)})" if unknown else "no 'data'"
        raise InvalidInput(
            f"'dataframe_split' has {problem}; it takes 'data' and optionally 'columns' and 'index'"
        )
    data, columns, index = split["data"], split.get("columns"), split.get("index")
    if not isinstance(data, list):
        raise InvalidInput(f"'dataframe_split.data' is {describe(data)}; send a list of rows")
    rule.check_rows(len(data))
    if columns is not None:
        if not isinstance(columns, list) or not all(isinstance(name, str) for name in columns):
            raise InvalidInput("'dataframe_split.columns' must be a list of column names (strings)")
        duplicated = [name for name, count in Counter(columns).items() if count > 1]
        if duplicated:
            raise InvalidInput(f"'dataframe_split.columns' names {name_list(duplicated)} more than once")
    if index is not None and (not isinstance(index, list) or len(index) != len(data)):
        given = (
            f"has {len(index)} label{'' if len(index) == 1 else 's'}"
            if isinstance(index, list)
            else f"is {describe(index)}"
        )
        raise InvalidInput(
            f"'dataframe_split.index' {given} but 'data' has {len(data)} rows; send one label per row"
        )
    if columns is None:
        return _frame_from_rows(data, rule, "dataframe_split")
    # An explicit 'columns' names the positions; rows must match it, not the model.
    return _positional_frame(data, columns, f"'columns' lists {len(columns)}", rule.kept(columns))


def _frame_from_rows(rows: list[Any], rule: ColumnRule, key: str) -> pd.DataFrame:
    """Rows as objects (named columns) or as lists / single values (positional columns)."""
    rule.check_rows(len(rows))
    if isinstance(rows[0], dict):
        return frame_from_records(rows, what=f"{key} row", rule=rule)
    feature_names = rule.features
    if feature_names is not None:
        names = [str(name) for name in feature_names]
        width = f"the model takes {len(names)} features ({name_list(names)})"
        return _positional_frame(rows, names, width)
    first = rows[0]
    count = len(first) if isinstance(first, list) else 1
    return _positional_frame(rows, [str(position) for position in range(count)], f"row 0 has {count}")


def _positional_frame(
    rows: list[Any], names: Sequence[str], expected: str, kept: Sequence[str] | None = None
) -> pd.DataFrame:
    """Rows of values in the order of ``names``; ``expected`` says where that order comes from. Only the
    ``kept`` columns (all when None) are built."""
    require_rows(len(rows))
    width = len(names)
    values: list[list[Any]] = []
    for position, row in enumerate(rows):
        if isinstance(row, dict):
            raise InvalidInput(
                f"row {position} is an object but row 0 is not; send every row as an object, "
                "or every row as a list"
            )
        cells = row if isinstance(row, list) else [row]
        if len(cells) != width:
            noun = "value" if len(cells) == 1 else "values"
            raise InvalidInput(f"row {position} has {len(cells)} {noun} but {expected}")
        values.append(cells)
    if kept is not None:
        wanted = set(kept)
        positions = [position for position, name in enumerate(names) if name in wanted]
        columns = {names[position]: [cells[position] for cells in values] for position in positions}
        return frame_from_columns(columns, len(rows))
    by_column = [list(column) for column in zip(*values, strict=True)] if width else []
    return frame_from_columns(dict(zip(names, by_column, strict=True)), len(rows))


def _frame_from_tensor_columns(columns: Mapping[str, Any], key: str, rule: ColumnRule) -> pd.DataFrame:
    """``{"col": [values]}`` (one list per column), or ``{"col": value}`` for a single row."""
    if not columns:
        require_rows(0)
    lists = [name for name, values in columns.items() if isinstance(values, list)]
    if not lists:
        return frame_from_columns({name: [value] for name, value in columns.items()}, 1)
    if len(lists) != len(columns):
        single = next(name for name in columns if name not in lists)
        raise InvalidInput(
            f"{key!r} mixes lists and single values "
            f"(column {quoted(single)} is {describe(columns[single])}); "
            "send every column as a list of values, one per row"
        )
    rows = common_length(columns)
    rule.check_rows(rows)
    return frame_from_columns(columns, rows)


def encode(result: PredictionResult, request: DecodedRequest) -> EncodedResponse:
    """MLflow's 200 response: ``{"predictions": [...]}``, one value per row."""
    predictions = np.asarray(result.predictions)
    plain = to_plain(predictions) if predictions.ndim == 1 else predictions.tolist()
    return json_response({"predictions": plain})


def encode_error(message: str, code: str = "BAD_REQUEST") -> EncodedResponse:
    """MLflow's error body, ``{"error_code": code, "message": message}``, with MLflow's status for code."""
    return json_response({"error_code": code, "message": message}, status=ERROR_STATUS.get(code, 500))


def encode_invalid_input(error: InvalidInput) -> EncodedResponse:
    """What MLflow answers for a request it refuses: 415 as plain text for a media type, else 400 JSON.

    A ``ContractViolation`` is a 400 too: MLflow reports a schema mismatch as a bad request.
    """
    if isinstance(error, UnsupportedMediaType):
        return EncodedResponse(415, str(error).encode(), {"content-type": "text/plain; charset=utf-8"})
    return encode_error(str(error))


#: The MLflow error code for a status this server answers with, where MLflow has one of its own.
_CODE_OF_STATUS = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "TEMPORARILY_UNAVAILABLE",
}


def encode_failure(error: BaseException, status: int, request_id: str) -> EncodedResponse:
    """The failure as MLflow answers it, with the status of the error's class (413 for a body over the
    limit, 503 when overloaded, …) and the MLflow code closest to it (``BAD_REQUEST`` for a refusal,
    ``INTERNAL_ERROR`` for a failure MLflow has no code for). Two answers follow MLflow rather than the class:
    a refused media type is 415 in plain text, and a contract violation is a 400 (MLflow has no 422).
    """
    if isinstance(error, UnsupportedMediaType):
        return encode_invalid_input(error)
    if isinstance(error, ContractViolation):
        status = 400
    code = _CODE_OF_STATUS.get(status, "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR")
    encoded = encode_error(str(error), code)
    return EncodedResponse(status, encoded.body, encoded.headers)


def ping_response(ready: bool) -> EncodedResponse:
    """``/ping`` and ``/health``: 200 with ``"\\n"`` when a model is loaded and serving, else 503.

    (MLflow answers 404 when its model failed to load; its server cannot be up while loading, ours can.)
    """
    return EncodedResponse(200 if ready else 503, b"\n", {"content-type": JSON_MEDIA_TYPE})


def version_response(version: str | None = None) -> EncodedResponse:
    """``/version``: the version as bare text, served as application/json exactly as MLflow does."""
    if version is None:
        version = __version__
    return EncodedResponse(200, version.encode(), {"content-type": JSON_MEDIA_TYPE})
