"""The Open Inference Protocol (KServe v2, Triton HTTP): ``POST /v2/models/{name}[/versions/{v}]/infer``.

Tensor-oriented clients — tritonclient, KServe's InferenceRESTClient, MLServer tooling, a platform's generic
probe — reach shipyard's tabular models through this codec. A table arrives in one of two layouts:

- one 2-D input of shape ``[N, F]`` (data flat in row-major order, or nested): its columns are the model's
  feature names, or "0" … "F-1" when the model records none;
- one input per column, each of shape ``[N]`` or ``[N, 1]``, named after its column; each column's dtype
  follows its datatype (BYTES becomes text).

The body is JSON whatever the Content-Type (tritonclient sends none). With Triton's binary tensor data
extension the ``Inference-Header-Content-Length`` header gives the length of the JSON header; the raw
tensors follow it, in input order, each as long as its ``parameters.binary_data_size`` — little-endian,
row-major, BOOL one byte per element, BYTES each element prefixed by its 4-byte little-endian length.

The response holds output ``predict`` (``[N]``) and, for classifiers, ``predict_proba`` (``[N, K]``, FP64);
``outputs`` in the request selects them, and ``"binary_data": true`` on an output (or
``"binary_data_output": true`` on the request, which tritonclient sets when it names no outputs) returns
that tensor in binary after the JSON, with the same header. Errors are ``{"error": message}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipyard._version import __version__
from shipyard.errors import InvalidInput
from shipyard.numerals import whole_number
from shipyard.serving.codecs import (
    ColumnRule,
    EncodedResponse,
    describe,
    error_response,
    frame_from_columns,
    header,
    json_response,
    name_list,
    parse_json,
    quoted,
    require_rows,
)
from shipyard.serving.results import DecodedRequest, PredictionResult

SERVER_ROUTE = "/v2"
LIVE_ROUTE = "/v2/health/live"
READY_ROUTE = "/v2/health/ready"
MODEL_ROUTES = ("/v2/models/{name}", "/v2/models/{name}/versions/{version}")
MODEL_READY_ROUTES = ("/v2/models/{name}/ready", "/v2/models/{name}/versions/{version}/ready")
INFER_ROUTES = ("/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer")
#: Request and response header giving the length of the JSON part when binary tensors follow it.
HEADER_LENGTH = "Inference-Header-Content-Length"
BINARY_MEDIA_TYPE = "application/octet-stream"

PREDICT = "predict"
PREDICT_PROBA = "predict_proba"
OUTPUT_NAMES = (PREDICT, PREDICT_PROBA)

#: The protocol's datatypes and the numpy dtype each becomes (BYTES: Python strings).
DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
_DATATYPE_OF = {dtype: name for name, dtype in DATATYPES.items() if name != "BYTES"}

#: How each contract column type is described in model metadata.
CONTRACT_DATATYPES = {
    "float": "FP64",
    "integer": "INT64",
    "boolean": "BOOL",
    "category": "BYTES",
    "string": "BYTES",
    "datetime": "BYTES",
}


@dataclass(frozen=True)
class _Tensor:
    name: str
    shape: list[int]
    datatype: str
    #: Flat, row-major: a numpy array, or a list of str | None for BYTES.
    values: np.ndarray | list[str | None]


def decode(
    body: bytes,
    headers: Mapping[str, str],
    feature_names: Sequence[str] | None = None,
    *,
    available_outputs: Sequence[str] = OUTPUT_NAMES,
    extra_columns: str = "keep",
    max_rows: int | None = None,
) -> DecodedRequest:
    """Decode an inference request (JSON, or JSON plus binary tensors) into rows.

    ``feature_names`` name the columns of a 2-D input; when the request sends one input per column, inputs
    named outside them are dropped, refused or kept as ``extra_columns`` (the contract's policy) says, before
    their values are read; an input whose first dimension is over ``max_rows`` is a 413, also before. A
    compressed body is decompressed before it gets here (``decompressed``). ``available_outputs`` are the
    outputs this model can give (pass ``("predict",)`` for a model without probabilities, so asking for
    ``predict_proba`` fails before the model runs). ``options`` keeps ``id``, ``parameters``, ``outputs``
    (each requested output's ``name`` and ``binary`` flag, or None for the defaults), ``binary_data_output``
    and ``want_proba``.
    """
    json_part, binary = _split_body(body, header(headers, HEADER_LENGTH))
    what = "the body" if binary is None else "the JSON header"
    request = parse_json(json_part, what)
    if not isinstance(request, dict):
        raise InvalidInput(f"{what} is {describe(request)}; send an inference request object with 'inputs'")
    request_id = request.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidInput(f"'id' is {describe(request_id)}; send a string")
    parameters = _parameters(request.get("parameters"), "the request")
    binary_data_output = parameters.get("binary_data_output", False)
    if not isinstance(binary_data_output, bool):
        raise InvalidInput(f"'binary_data_output' is {describe(binary_data_output)}; send true or false")
    tensors = _read_inputs(request.get("inputs"), binary, ColumnRule(feature_names, extra_columns, max_rows))
    outputs = _requested_outputs(request.get("outputs"), binary_data_output, available_outputs)
    want_proba = PREDICT_PROBA in available_outputs and (
        outputs is None or any(output["name"] == PREDICT_PROBA for output in outputs)
    )
    options = {
        "id": request_id,
        "parameters": parameters,
        "outputs": outputs,
        "binary_data_output": binary_data_output,
        "want_proba": want_proba,
    }
    return DecodedRequest(_frame(tensors, feature_names), options=options)


def _split_body(body: bytes, length_header: str | None) -> tuple[bytes, memoryview | None]:
    if length_header is None:
        return body, None
    length = whole_number(length_header.strip())
    if length is None:
        raise InvalidInput(
            f"the {HEADER_LENGTH} header is {length_header[:40]!r}; send the JSON header's length in bytes"
        )
    if not 0 < length <= len(body):
        raise InvalidInput(
            f"the {HEADER_LENGTH} header is {length} but the body has {len(body)} bytes; "
            "send the length of the JSON header that starts the body"
        )
    return body[:length], memoryview(body)[length:]


def _parameters(value: Any, owner: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"the 'parameters' of {owner} is {describe(value)}; send an object")
    return value


def _read_inputs(inputs: Any, binary: memoryview | None, rule: ColumnRule) -> list[_Tensor]:
    if inputs is None or inputs == []:
        raise InvalidInput("the request has no 'inputs'; send a list of input tensors")
    if not isinstance(inputs, list):
        raise InvalidInput(f"'inputs' is {describe(inputs)}; send a list of input tensors")
    kept = _kept_inputs(inputs, rule)
    tensors: list[_Tensor] = []
    offset = 0
    for position, spec in enumerate(inputs):
        if not isinstance(spec, dict):
            raise InvalidInput(
                f"input {position} is {describe(spec)}; send an object with name, shape, datatype"
            )
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"input {position} has no name; every input needs a 'name' string")
        if kept is not None and name not in kept:
            offset += _binary_size(spec)  # a dropped column's bytes are passed over, never read
            continue
        datatype = _datatype(spec.get("datatype"), name)
        shape = _shape(spec.get("shape"), name)
        if shape:
            rule.check_rows(shape[0])  # before any value is read: a tensor's first dimension is its rows
        count = math.prod(shape)
        size = _parameters(spec.get("parameters"), f"input {quoted(name)}").get("binary_data_size")
        if size is not None:
            if "data" in spec:
                raise InvalidInput(
                    f"input {quoted(name)} has both 'data' and binary_data_size; send one of them"
                )
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise InvalidInput(
                    f"input {quoted(name)} has binary_data_size {describe(size)}; send a byte count"
                )
            if binary is None:
                raise InvalidInput(
                    f"input {quoted(name)} declares binary_data_size but the request has no {HEADER_LENGTH} "
                    "header; send the header with the length of the JSON part"
                )
            if offset + size > len(binary):
                raise InvalidInput(
                    f"input {quoted(name)} declares binary_data_size {size} but only "
                    f"{len(binary) - offset} bytes follow; "
                    "send every input's binary data after the JSON header, in input order"
                )
            chunk = binary[offset : offset + size]
            offset += size
            values = _values_from_binary(name, datatype, shape, count, chunk)
        elif "data" in spec:
            values = _values_from_json(name, datatype, shape, count, spec["data"])
        else:
            raise InvalidInput(
                f"input {quoted(name)} has no 'data'; send its values as 'data' or as binary data"
            )
        tensors.append(_Tensor(name, shape, datatype, values))
    if binary is not None and offset != len(binary):
        raise InvalidInput(
            f"the body has {len(binary) - offset} bytes after the last input's binary data; "
            "binary_data_size must account for every byte after the JSON header"
        )
    return tensors


def _kept_inputs(inputs: list[Any], rule: ColumnRule) -> set[str] | None:
    """The names of the inputs to read when the request sends one input per column (several inputs); None
    to read all. A single input is a table or a column either way, and is always read."""
    if len(inputs) < 2 or rule.features is None:
        return None
    names = [spec.get("name") for spec in inputs if isinstance(spec, dict)]
    kept = rule.kept([name for name in names if isinstance(name, str)])
    if kept == []:
        raise InvalidInput(
            f"no input names a column the model takes ({name_list(rule.features)}); "
            "name each input after its column"
        )
    return None if kept is None else set(kept)


def _binary_size(spec: dict[str, Any]) -> int:
    parameters = spec.get("parameters")
    size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
    return size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else 0


def _datatype(value: Any, name: str) -> str:
    datatype = value.upper() if isinstance(value, str) else None
    if datatype not in DATATYPES:
        shown = repr(value[:20]) if isinstance(value, str) else describe(value)
        raise InvalidInput(
            f"input {quoted(name)} has datatype {shown}; valid datatypes are {', '.join(DATATYPES)}"
        )
    return str(datatype)


def _shape(value: Any, name: str) -> list[int]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(size, int) and not isinstance(size, bool) and size >= 0 for size in value)
    ):
        raise InvalidInput(
            f"input {quoted(name)} has no valid shape; send 'shape' as a list of sizes, like [3, 4]"
        )
    return value


def _count_message(name: str, shape: list[int], count: int, found: str) -> str:
    return f"input {quoted(name)} has shape {shape} ({count} values) but {found}; send one value per element"


def _values_from_binary(
    name: str, datatype: str, shape: list[int], count: int, chunk: memoryview
) -> np.ndarray | list[str | None]:
    if datatype == "BYTES":
        strings = _read_bytes_elements(name, chunk)
        if len(strings) != count:
            raise InvalidInput(_count_message(name, shape, count, f"its binary data holds {len(strings)}"))
        return strings
    dtype = DATATYPES[datatype]
    if len(chunk) != count * dtype.itemsize:
        raise InvalidInput(
            f"input {quoted(name)} has shape {shape} "
            f"({count} {datatype} values, {count * dtype.itemsize} bytes) "
            f"but binary_data_size is {len(chunk)}; send {dtype.itemsize} bytes per value"
        )
    # little-endian on the wire; astype copies into native order and a writable array
    return np.frombuffer(chunk, dtype=dtype.newbyteorder("<")).astype(dtype)


def _read_bytes_elements(name: str, chunk: memoryview) -> list[str | None]:
    strings: list[str | None] = []
    offset = 0
    raw = bytes(chunk)
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise InvalidInput(
                f"input {quoted(name)} (BYTES) ends inside the length of element {len(strings)}; "
                "prefix every element with its 4-byte little-endian length"
            )
        length = int.from_bytes(raw[offset : offset + 4], "little")
        offset += 4
        if offset + length > len(raw):
            raise InvalidInput(
                f"input {quoted(name)} (BYTES) element {len(strings)} claims {length} bytes but "
                f"{len(raw) - offset} remain; prefix every element with its 4-byte little-endian length"
            )
        try:
            strings.append(raw[offset : offset + length].decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidInput(
                f"input {quoted(name)} element {len(strings)} is not valid UTF-8 text"
            ) from None
        offset += length
    return strings


def _flatten(data: list[Any]) -> list[Any]:
    """Nested lists flattened in row-major order, iteratively (JSON may nest deeper than Python recurses)."""
    if not any(isinstance(item, list) for item in data):
        return data
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def _values_from_json(
    name: str, datatype: str, shape: list[int], count: int, data: Any
) -> np.ndarray | list[str | None]:
    if not isinstance(data, list):
        data = [data]  # a lone scalar is a one-element tensor
    values = _flatten(data)
    if len(values) != count:
        raise InvalidInput(_count_message(name, shape, count, f"'data' holds {len(values)}"))
    if datatype == "BYTES":
        bad = next((i for i, v in enumerate(values) if v is not None and not isinstance(v, str)), None)
        if bad is not None:
            raise InvalidInput(_element_message(name, datatype, bad, values[bad], "strings"))
        return values
    dtype = DATATYPES[datatype]
    if datatype == "BOOL":
        bad = next((i for i, v in enumerate(values) if not isinstance(v, bool)), None)
        if bad is not None:
            raise InvalidInput(_element_message(name, datatype, bad, values[bad], "true or false"))
        return np.array(values, dtype=dtype)
    if dtype.kind in "iu":
        bad = next((i for i, v in enumerate(values) if isinstance(v, bool) or not isinstance(v, int)), None)
        if bad is not None:
            raise InvalidInput(_element_message(name, datatype, bad, values[bad], "whole numbers"))
        limits = np.iinfo(dtype)
        if values and (min(values) < limits.min or max(values) > limits.max):
            raise InvalidInput(
                f"input {quoted(name)} holds values outside the {datatype} range "
                f"({limits.min} to {limits.max}); "
                "send a wider datatype"
            )
        return np.array(values, dtype=dtype)
    # FP16/FP32/FP64: null stands for a missing value (NaN), which JSON cannot write
    bad = next(
        (i for i, v in enumerate(values) if isinstance(v, bool) or not isinstance(v, int | float | None)),
        None,
    )
    if bad is not None:
        raise InvalidInput(_element_message(name, datatype, bad, values[bad], "numbers or null"))
    wide = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    with np.errstate(over="ignore"):
        narrow = wide.astype(dtype)
    if np.any(np.isinf(narrow) & np.isfinite(wide)):
        limit = float(np.finfo(dtype).max)
        raise InvalidInput(
            f"input {quoted(name)} holds values outside the {datatype} range (±{limit:.4g}); "
            "send a wider datatype"
        )
    return narrow


def _element_message(name: str, datatype: str, position: int, value: Any, wanted: str) -> str:
    return f"input {quoted(name)} is {datatype} but element {position} is {describe(value)}; send {wanted}"


def _frame(tensors: list[_Tensor], feature_names: Sequence[str] | None) -> pd.DataFrame:
    first = tensors[0]
    names = [str(name) for name in feature_names] if feature_names is not None else None
    one_column_named = (
        len(first.shape) == 2 and first.shape[1] == 1 and names is not None and first.name in names
    )
    if len(tensors) == 1 and len(first.shape) == 2 and not one_column_named:
        return _frame_from_matrix(first, names)
    rows: int | None = None
    columns: dict[str, np.ndarray | list[str | None]] = {}
    for tensor in tensors:
        if len(tensor.shape) > 2 or (len(tensor.shape) == 2 and tensor.shape[1] != 1):
            raise InvalidInput(
                f"input {quoted(tensor.name)} has shape {tensor.shape}; with one input per column each input "
                "has shape [N] or [N, 1] (or send a single input of shape [N, F])"
            )
        if rows is None:
            rows = tensor.shape[0]
        elif tensor.shape[0] != rows:
            raise InvalidInput(
                f"the inputs have different row counts ({quoted(first.name)} has {rows}, "
                f"{quoted(tensor.name)} has {tensor.shape[0]}); every column needs one value per row"
            )
        if tensor.name in columns:
            raise InvalidInput(f"input {quoted(tensor.name)} appears twice; send each column once")
        columns[tensor.name] = tensor.values
    require_rows(rows or 0)
    return frame_from_columns(columns, rows or 0, check_cells=False)


def _frame_from_matrix(tensor: _Tensor, names: list[str] | None) -> pd.DataFrame:
    rows, width = tensor.shape
    if names is not None and len(names) != width:
        raise InvalidInput(
            f"input {quoted(tensor.name)} has {width} columns (shape {tensor.shape}) but the model takes "
            f"{len(names)} features ({name_list(names)})"
        )
    require_rows(rows)
    names = names if names is not None else [str(position) for position in range(width)]
    values = tensor.values
    if isinstance(values, list):  # BYTES: row-major, so column j is every width-th value from j
        columns: dict[str, Any] = {name: values[j::width] for j, name in enumerate(names)}
    else:
        matrix = values.reshape(rows, width)
        columns = {name: matrix[:, j] for j, name in enumerate(names)}
    return frame_from_columns(columns, rows, check_cells=False)


def _requested_outputs(
    outputs: Any, binary_data_output: bool, available: Sequence[str]
) -> list[dict[str, Any]] | None:
    if outputs is None:
        return None
    if not isinstance(outputs, list):
        raise InvalidInput(f"'outputs' is {describe(outputs)}; send a list of objects with a 'name'")
    requested: list[dict[str, Any]] = []
    for position, output in enumerate(outputs):
        name = output.get("name") if isinstance(output, dict) else None
        if not isinstance(name, str):
            raise InvalidInput(f"output {position} has no name; every requested output needs a 'name' string")
        if name not in available:
            raise InvalidInput(
                f"unknown output {name[:60]!r}; this model's outputs are {', '.join(available)}"
            )
        binary = _parameters(output.get("parameters"), f"output {quoted(name)}").get(
            "binary_data", binary_data_output
        )
        if not isinstance(binary, bool):
            raise InvalidInput(
                f"output {quoted(name)} has binary_data {describe(binary)}; send true or false"
            )
        requested.append({"name": name, "binary": binary})
    return requested or None


def encode(result: PredictionResult, request: DecodedRequest) -> EncodedResponse:
    """The inference response, with binary outputs after the JSON when the request asked for them.

    Raises InvalidInput if the request named ``predict_proba`` and the result has no probabilities.
    """
    options = request.options
    default_binary = bool(options.get("binary_data_output", False))
    requested = options.get("outputs")
    if requested is None:
        names = [PREDICT] + ([PREDICT_PROBA] if result.probabilities is not None else [])
        requested = [{"name": name, "binary": default_binary} for name in names]
    tensors: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for output in requested:
        values = _output_values(result, output["name"])
        datatype = _datatype_of(values)
        tensor: dict[str, Any] = {"name": output["name"], "datatype": datatype, "shape": list(values.shape)}
        if output["binary"]:
            raw = _to_binary(values, datatype)
            tensor["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            tensor["data"] = _to_json_data(values, datatype)
        tensors.append(tensor)
    given_id = options.get("id")
    payload: dict[str, Any] = {
        "model_name": result.model,
        "model_version": str(result.version),
        "id": given_id or result.request_id,
    }
    if given_id and given_id != result.request_id:
        # prediction ids are "<request_id>-<row>": keep shipyard's id reachable when the client chose its own
        payload["parameters"] = {"request_id": result.request_id}
    payload["outputs"] = tensors
    response = json_response(payload)
    if not chunks:
        return response
    headers = {"content-type": BINARY_MEDIA_TYPE, HEADER_LENGTH: str(len(response.body))}
    return EncodedResponse(200, response.body + b"".join(chunks), headers)


def _output_values(result: PredictionResult, name: str) -> np.ndarray:
    if name == PREDICT:
        return np.asarray(result.predictions)
    if result.probabilities is None:
        raise InvalidInput(
            f"output {PREDICT_PROBA!r} is not available: model {result.model!r} version {result.version} "
            f"(task: {result.task}) gives no probabilities; request {PREDICT!r}"
        )
    return np.asarray(result.probabilities, dtype=np.float64)


def _datatype_of(values: np.ndarray) -> str:
    return _DATATYPE_OF.get(values.dtype, "BYTES")


def _texts(values: np.ndarray) -> list[str | None]:
    return [
        None
        if value is None
        else value.decode("utf-8", "replace")
        if isinstance(value, bytes)
        else str(value)
        for value in values.ravel().tolist()
    ]


def _to_json_data(values: np.ndarray, datatype: str) -> list[Any]:
    if datatype == "BYTES":
        return _texts(values)
    return values.ravel().tolist()  # NaN is written as null


def _to_binary(values: np.ndarray, datatype: str) -> bytes:
    if datatype == "BYTES":
        encoded = [(text or "").encode("utf-8") for text in _texts(values)]
        return b"".join(len(item).to_bytes(4, "little") + item for item in encoded)
    little = values.dtype.newbyteorder("<")
    return np.ascontiguousarray(values, dtype=little).tobytes()


def encode_error(message: str, status: int = 400) -> EncodedResponse:
    """The protocol's error response: ``{"error": message}``."""
    return error_response(message, status)


def encode_failure(error: BaseException, status: int, request_id: str) -> EncodedResponse:
    """The protocol's error response; a contract rejection is a 400, as the protocol has no 422."""
    return encode_error(str(error), 400 if status == 422 else status)


def server_metadata(version: str | None = None) -> dict[str, Any]:
    """``GET /v2``: the server's name, version and the extensions it supports."""
    if version is None:
        version = __version__
    return {"name": "shipyard", "version": version, "extensions": ["binary_tensor_data"]}


def model_metadata(
    name: str,
    versions: Sequence[int | str],
    flavor: str,
    features: Sequence[tuple[str, str]],
    task: str,
    n_classes: int | None = None,
    *,
    classes: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """``GET /v2/models/{name}[/versions/{v}]``: one input per contract column, and the model's outputs.

    ``features`` pairs each column with its contract type (float, integer, boolean, category, string,
    datetime). The ``predict`` datatype follows ``classes`` when given; otherwise FP64 for a regressor and
    INT64 for a classifier. Classifiers also list ``predict_proba`` of shape [-1, number of classes].
    """
    inputs = []
    for column, kind in features:
        if kind not in CONTRACT_DATATYPES:
            raise InvalidInput(
                f"column {column!r} has contract type {kind!r}; "
                f"known types are {', '.join(CONTRACT_DATATYPES)}"
            )
        inputs.append({"name": column, "datatype": CONTRACT_DATATYPES[kind], "shape": [-1]})
    if classes is not None:
        n_classes = len(classes)
        label_datatype = _datatype_of(np.asarray(classes))
    else:
        label_datatype = "INT64" if task == "classification" else "FP64"
    outputs: list[dict[str, Any]] = [{"name": PREDICT, "datatype": label_datatype, "shape": [-1]}]
    if task == "classification":
        width = n_classes if n_classes is not None else -1
        outputs.append({"name": PREDICT_PROBA, "datatype": "FP64", "shape": [-1, width]})
    return {
        "name": name,
        "versions": [str(version) for version in versions],
        "platform": f"shipyard-{flavor}",
        "inputs": inputs,
        "outputs": outputs,
    }
