"""Open Inference Protocol codec: JSON and binary tensors in, tensors out, as Triton and KServe send them."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from shipyard import __version__
from shipyard.errors import InvalidInput
from shipyard.serving.codecs import EncodedResponse, oip
from shipyard.serving.results import DecodedRequest, PredictionResult

FEATURES = ["a", "b", "c"]
NO_HEADERS: dict[str, str] = {}


def decode_json(
    request: dict[str, Any], features: list[str] | None = FEATURES, **kwargs: Any
) -> DecodedRequest:
    return oip.decode(orjson.dumps(request), NO_HEADERS, features, **kwargs)


def matrix_input(data: Any, shape: Any, datatype: str = "FP64", name: str = "input-0") -> dict[str, Any]:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


# What tritonclient does on the wire (tritonclient/http/_utils.py and _infer_input.py), rebuilt with numpy:
# inputs as raw little-endian bytes after the JSON, binary_data_output when no outputs are named.


def tensor_bytes(values: np.ndarray, datatype: str) -> bytes:
    if datatype == "BYTES":
        items = [v if isinstance(v, bytes) else str(v).encode() for v in values.ravel().tolist()]
        return b"".join(len(item).to_bytes(4, "little") + item for item in items)
    return values.tobytes()


def binary_request(
    inputs: list[tuple[str, np.ndarray, str]],
    outputs: list[dict[str, Any]] | None = None,
    request_id: str = "",
) -> tuple[bytes, dict[str, str]]:
    request: dict[str, Any] = {}
    parameters: dict[str, Any] = {}
    if request_id:
        request["id"] = request_id
    raws = [tensor_bytes(values, datatype) for _, values, datatype in inputs]
    request["inputs"] = [
        {
            "name": name,
            "shape": list(values.shape),
            "datatype": datatype,
            "parameters": {"binary_data_size": len(raw)},
        }
        for (name, values, datatype), raw in zip(inputs, raws, strict=True)
    ]
    if outputs:
        request["outputs"] = outputs
    else:
        parameters["binary_data_output"] = True
    if parameters:
        request["parameters"] = parameters
    header = orjson.dumps(request)
    return header + b"".join(raws), {"Inference-Header-Content-Length": str(len(header))}


def read_response(response: EncodedResponse) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Parse a response the way tritonclient's InferResult does: JSON header, then binary outputs in order."""
    length = response.headers.get(oip.HEADER_LENGTH)
    header = orjson.loads(response.body[: int(length)] if length else response.body)
    buffer = response.body[int(length) :] if length else b""
    arrays: dict[str, np.ndarray] = {}
    offset = 0
    for output in header["outputs"]:
        size = output.get("parameters", {}).get("binary_data_size")
        if size is None:
            dtype = object if output["datatype"] == "BYTES" else oip.DATATYPES[output["datatype"]]
            arrays[output["name"]] = np.array(output["data"], dtype=dtype).reshape(output["shape"])
            continue
        chunk = buffer[offset : offset + size]
        offset += size
        if output["datatype"] == "BYTES":
            items, position = [], 0
            while position < len(chunk):
                count = int.from_bytes(chunk[position : position + 4], "little")
                items.append(chunk[position + 4 : position + 4 + count].decode())
                position += 4 + count
            values = np.array(items, dtype=object)
        else:
            values = np.frombuffer(chunk, dtype=oip.DATATYPES[output["datatype"]])
        arrays[output["name"]] = values.reshape(output["shape"])
    assert offset == len(buffer), "every binary byte belongs to an output"
    return header, arrays


EXPECTED_MATRIX = pd.DataFrame({"a": [1.0, 4.0], "b": [2.0, 5.0], "c": [3.0, 6.0]})


def test_a_2d_input_with_flat_data_takes_the_model_feature_names() -> None:
    request = decode_json({"inputs": [matrix_input([1, 2, 3, 4, 5, 6], [2, 3])]})

    pd.testing.assert_frame_equal(request.frame, EXPECTED_MATRIX)
    assert request.text_input is False
    assert request.options["want_proba"] is True
    assert request.options["outputs"] is None


def test_nested_data_is_reshaped_the_same_way() -> None:
    request = decode_json({"inputs": [matrix_input([[1, 2, 3], [4, 5, 6]], [2, 3])]})

    pd.testing.assert_frame_equal(request.frame, EXPECTED_MATRIX)


def test_without_feature_names_the_columns_are_positions() -> None:
    frame = decode_json({"inputs": [matrix_input([1, 2, 3, 4, 5, 6], [2, 3], "INT64")]}, features=None).frame

    assert list(frame.columns) == ["0", "1", "2"]
    assert frame["2"].tolist() == [3, 6]
    assert frame["2"].dtype == np.int64


def test_one_input_per_column_keeps_each_datatype() -> None:
    request = decode_json(
        {
            "id": "abc",
            "inputs": [
                {"name": "age", "shape": [3], "datatype": "INT8", "data": [30, 41, -5]},
                {"name": "member", "shape": [3, 1], "datatype": "BOOL", "data": [[True], [False], [True]]},
                {"name": "city", "shape": [3], "datatype": "BYTES", "data": ["Oslo", None, "Lima"]},
                {"name": "score", "shape": [3, 1], "datatype": "FP32", "data": [0.5, None, 2]},
                {"name": "visits", "shape": [3], "datatype": "UINT16", "data": [1, 2, 65535]},
            ],
        }
    )

    frame = request.frame
    assert list(frame.columns) == ["age", "member", "city", "score", "visits"]
    assert frame.dtypes.to_dict() == {
        "age": np.dtype(np.int8),
        "member": np.dtype(bool),
        "city": frame["city"].dtype,
        "score": np.dtype(np.float32),
        "visits": np.dtype(np.uint16),
    }
    assert pd.api.types.is_string_dtype(frame["city"].dtype)
    assert frame["city"].iloc[0] == "Oslo"
    assert pd.isna(frame["city"].iloc[1])
    assert np.isnan(frame["score"].iloc[1])
    assert frame["visits"].tolist() == [1, 2, 65535]
    assert request.options["id"] == "abc"


def test_a_single_column_input_named_after_a_feature_is_that_column() -> None:
    frame = decode_json({"inputs": [matrix_input([1.5, 2.5], [2, 1], name="b")]}).frame

    assert list(frame.columns) == ["b"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Content-Type": "application/octet-stream"}, {"content-type": "text/plain"}],
)
def test_the_body_is_json_whatever_the_content_type(headers: dict[str, str]) -> None:
    body = orjson.dumps({"inputs": [matrix_input([1, 2, 3, 4, 5, 6], [2, 3])]})

    pd.testing.assert_frame_equal(oip.decode(body, headers, FEATURES).frame, EXPECTED_MATRIX)


@pytest.mark.parametrize(
    ("request_body", "fragment"),
    [
        ({}, "the request has no 'inputs'"),
        ({"inputs": []}, "the request has no 'inputs'"),
        ({"inputs": {"x": 1}}, "'inputs' is an object"),
        ({"inputs": [matrix_input([1, 2, 3, 4, 5], [2, 3])]}, "input 'input-0' has shape [2, 3] (6 values)"),
        ({"inputs": [matrix_input([1, 2, 3], [2, 3])]}, "but 'data' holds 3"),
        (
            {"inputs": [matrix_input([1, 2], [2, 3], "FLOAT")]},
            "has datatype 'FLOAT'; valid datatypes are BOOL, ",
        ),
        ({"inputs": [matrix_input([], [0, 3])]}, "the request has no rows"),
        (
            {"inputs": [{"name": "a", "shape": [0], "datatype": "FP64", "data": []}]},
            "the request has no rows",
        ),
        ({"inputs": [matrix_input([1, 2], [2], name="")]}, "input 0 has no name"),
        ({"inputs": [matrix_input([1, 2], "2", name="a")]}, "input 'a' has no valid shape"),
        ({"inputs": [{"name": "a", "shape": [1], "datatype": "FP64"}]}, "input 'a' has no 'data'"),
        ({"inputs": [matrix_input([1, 2, 3, 4], [2, 2])]}, "input 'input-0' has 2 columns (shape [2, 2])"),
        ({"inputs": [matrix_input([1] * 8, [2, 2, 2])]}, "each input has shape [N] or [N, 1]"),
        (
            {"inputs": [matrix_input([1, 2], [2], name="a"), matrix_input([1], [1], name="b")]},
            "different row counts ('a' has 2, 'b' has 1)",
        ),
        (
            {"inputs": [matrix_input([1], [1], name="a"), matrix_input([2], [1], name="a")]},
            "input 'a' appears twice",
        ),
        ({"inputs": [matrix_input([1, 2.5], [2], "INT64", "a")]}, "'a' is INT64 but element 1 is a number"),
        ({"inputs": [matrix_input([1, 300], [2], "INT8", "a")]}, "outside the INT8 range (-128 to 127)"),
        ({"inputs": [matrix_input([1, 1e300], [2], "FP32", "a")]}, "outside the FP32 range (±3.403e+38)"),
        ({"inputs": [{"name": "a", "datatype": [], "shape": [1], "data": [1]}]}, "'a' has datatype a list"),
        ({"inputs": [matrix_input([True, 1], [2], "BOOL", "a")]}, "'a' is BOOL but element 1 is a number"),
        ({"inputs": [matrix_input(["x", 1], [2], "BYTES", "a")]}, "'a' is BYTES but element 1 is a number"),
        ({"inputs": [matrix_input([1.5, "x"], [2], "FP64", "a")]}, "'a' is FP64 but element 1 is a string"),
        ({"inputs": [matrix_input([1], [1], name="a")], "id": 7}, "'id' is a number"),
        ({"inputs": [matrix_input([1], [1], name="a")], "parameters": [1]}, "'parameters' of the request"),
        (
            {"inputs": [matrix_input([1], [1], name="a")], "outputs": [{"name": "scores"}]},
            "unknown output 'scores'; this model's outputs are predict, predict_proba",
        ),
        (
            {
                "inputs": [matrix_input([1], [1], name="a")],
                "outputs": [{"name": "predict", "parameters": {"binary_data": 1}}],
            },
            "output 'predict' has binary_data a number",
        ),
    ],
)
def test_bad_requests_raise_invalid_input_naming_the_problem(
    request_body: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        decode_json(request_body)

    assert fragment in str(raised.value)


def test_a_count_mismatch_names_the_input_its_shape_and_the_count() -> None:
    with pytest.raises(InvalidInput) as raised:
        decode_json({"inputs": [matrix_input([0.0] * 100_000, [2, 3])]})

    assert str(raised.value) == (
        "input 'input-0' has shape [2, 3] (6 values) but 'data' holds 100000; send one value per element"
    )


def test_a_long_input_name_is_cut_in_messages() -> None:
    with pytest.raises(InvalidInput) as raised:
        decode_json({"inputs": [matrix_input([1], [2], name="n" * 5000)]})

    assert len(str(raised.value)) < 200
    assert "…" in str(raised.value)


def test_malformed_json_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as raised:
        oip.decode(b'{"inputs": [}', NO_HEADERS, FEATURES)

    assert str(raised.value).startswith("the body is not valid JSON: ")


def test_binary_inputs_decode_like_json_ones() -> None:
    ages = np.array([31, 42, 7], dtype=np.int64)
    members = np.array([True, False, True])
    cities = np.array(["Oslo", "Zürich", ""], dtype=object)
    body, headers = binary_request(
        [("age", ages, "INT64"), ("member", members, "BOOL"), ("city", cities, "BYTES")]
    )

    request = oip.decode(body, headers, None)

    assert request.frame["age"].tolist() == [31, 42, 7]
    assert request.frame["age"].dtype == np.int64
    assert request.frame["member"].tolist() == [True, False, True]
    assert request.frame["city"].tolist() == ["Oslo", "Zürich", ""]
    assert request.options["binary_data_output"] is True


def test_a_binary_2d_fp64_input_reshapes_row_major() -> None:
    matrix = np.arange(6, dtype=np.float64).reshape(2, 3)
    body, headers = binary_request([("x", matrix, "FP64")])

    frame = oip.decode(body, {k.lower(): v for k, v in headers.items()}, FEATURES).frame

    np.testing.assert_array_equal(frame.to_numpy(), matrix)
    assert list(frame.columns) == FEATURES


def test_fp16_binary_input_decodes() -> None:
    values = np.array([0.5, 1.5, -2.0], dtype=np.float16)
    body, headers = binary_request([("h", values, "FP16")])

    frame = oip.decode(body, headers, None).frame

    assert frame["h"].dtype == np.float16
    assert frame["h"].tolist() == [0.5, 1.5, -2.0]


def _with_header(
    request: dict[str, Any], binary: bytes, length: int | str | None = None
) -> tuple[bytes, dict[str, str]]:
    header = orjson.dumps(request)
    return header + binary, {oip.HEADER_LENGTH: str(len(header) if length is None else length)}


def _binary_input(size: int, shape: list[int], datatype: str = "FP64", name: str = "a") -> dict[str, Any]:
    return {"name": name, "shape": shape, "datatype": datatype, "parameters": {"binary_data_size": size}}


@pytest.mark.parametrize(
    ("request_body", "binary", "length", "fragment"),
    [
        (
            {"inputs": [_binary_input(16, [3])]},
            b"\0" * 16,
            None,
            "(3 FP64 values, 24 bytes) but binary_data_size is 16",
        ),
        (
            {"inputs": [_binary_input(24, [3])]},
            b"\0" * 16,
            None,
            "declares binary_data_size 24 but only 16 bytes follow",
        ),
        ({"inputs": [_binary_input(8, [1])]}, b"\0" * 12, None, "the body has 4 bytes after the last input"),
        (
            {"inputs": [_binary_input(8, [1])]},
            b"\0" * 8,
            "lots",
            "the Inference-Header-Content-Length header is 'lots'",
        ),
        ({"inputs": [_binary_input(8, [1])]}, b"\0" * 8, 10_000, "header is 10000 but the body has"),
        ({"inputs": [_binary_input(-1, [1])]}, b"", None, "binary_data_size a number; send a byte count"),
        (
            {"inputs": [{**_binary_input(8, [1]), "data": [1.0]}]},
            b"\0" * 8,
            None,
            "has both 'data' and binary_data_size",
        ),
        (
            {"inputs": [_binary_input(6, [1], "BYTES")]},
            b"\x09\0\0\0ab",
            None,
            "element 0 claims 9 bytes but 2 remain",
        ),
        (
            {"inputs": [_binary_input(6, [2], "BYTES")]},
            b"\x01\0\0\0a\0",
            None,
            "ends inside the length of element 1",
        ),
        (
            {"inputs": [_binary_input(5, [1], "BYTES")]},
            b"\x01\0\0\0\xff",
            None,
            "element 0 is not valid UTF-8",
        ),
        (
            {"inputs": [_binary_input(10, [3], "BYTES")]},
            b"\x01\0\0\0a\x01\0\0\0b",
            None,
            "its binary data holds 2",
        ),
    ],
)
def test_bad_binary_requests_raise_invalid_input(
    request_body: dict[str, Any], binary: bytes, length: int | str | None, fragment: str
) -> None:
    body, headers = _with_header(request_body, binary, length)

    with pytest.raises(InvalidInput) as raised:
        oip.decode(body, headers, None)

    assert fragment in str(raised.value)


def test_binary_data_without_the_length_header_is_refused() -> None:
    body = orjson.dumps({"inputs": [_binary_input(8, [1])]})

    with pytest.raises(InvalidInput) as raised:
        oip.decode(body, NO_HEADERS, None)

    assert "has no Inference-Header-Content-Length header" in str(raised.value)


def classifier_result(**overrides: Any) -> PredictionResult:
    values: dict[str, Any] = {
        "model": "fraud",
        "version": 3,
        "request_id": "req1",
        "predictions": np.array([0, 1], dtype=np.int64),
        "probabilities": np.array([[0.75, 0.25], [0.125, 0.875]]),
        "classes": [0, 1],
        "task": "classification",
    }
    values.update(overrides)
    return PredictionResult(**values)


def test_a_classifier_answers_predict_and_predict_proba_in_json_by_default() -> None:
    request = decode_json({"inputs": [matrix_input([1, 2, 3, 4, 5, 6], [2, 3])]})

    response = oip.encode(classifier_result(), request)

    assert response.status == 200
    assert response.headers == {"content-type": "application/json"}
    assert orjson.loads(response.body) == {
        "model_name": "fraud",
        "model_version": "3",
        "id": "req1",
        "outputs": [
            {"name": "predict", "datatype": "INT64", "shape": [2], "data": [0, 1]},
            {
                "name": "predict_proba",
                "datatype": "FP64",
                "shape": [2, 2],
                "data": [0.75, 0.25, 0.125, 0.875],
            },
        ],
    }


def test_a_regressor_answers_predict_only_and_nan_is_null() -> None:
    request = decode_json({"inputs": [matrix_input([1, 2, 3], [1, 3])]}, available_outputs=("predict",))
    result = classifier_result(
        predictions=np.array([np.nan]), probabilities=None, classes=None, task="regression"
    )

    body = orjson.loads(oip.encode(result, request).body)

    assert request.options["want_proba"] is False
    assert body["outputs"] == [{"name": "predict", "datatype": "FP64", "shape": [1], "data": [None]}]


def test_requested_outputs_select_the_response_and_want_proba() -> None:
    request = decode_json({"inputs": [matrix_input([1, 2, 3], [1, 3])], "outputs": [{"name": "predict"}]})

    body = orjson.loads(oip.encode(classifier_result(predictions=np.array([1])), request).body)

    assert request.options["want_proba"] is False
    assert [output["name"] for output in body["outputs"]] == ["predict"]


def test_a_client_id_is_echoed_and_shipyards_request_id_kept_in_parameters() -> None:
    request = decode_json({"id": "client-7", "inputs": [matrix_input([1, 2, 3], [1, 3])]})

    body = orjson.loads(oip.encode(classifier_result(predictions=np.array([1])), request).body)

    assert body["id"] == "client-7"
    assert body["parameters"] == {"request_id": "req1"}


def test_predict_proba_is_refused_for_a_model_without_probabilities() -> None:
    asked = {"inputs": [matrix_input([1, 2, 3], [1, 3])], "outputs": [{"name": "predict_proba"}]}
    request = decode_json(asked)
    regression = classifier_result(predictions=np.array([1.0]), probabilities=None, task="regression")

    with pytest.raises(InvalidInput) as at_encode:
        oip.encode(regression, request)
    with pytest.raises(InvalidInput) as at_decode:
        decode_json(asked, available_outputs=("predict",))

    assert "gives no probabilities" in str(at_encode.value)
    assert "this model's outputs are predict" in str(at_decode.value)


def test_binary_request_and_binary_response_round_trip() -> None:
    matrix = np.array([[0.5, 1.5, 2.5], [3.5, 4.5, 5.5]])
    body, headers = binary_request([("x", matrix, "FP64")], request_id="r-1")
    request = oip.decode(body, headers, FEATURES)
    result = classifier_result(request_id="r-1")

    response = oip.encode(result, request)

    header, arrays = read_response(response)
    assert response.headers["content-type"] == "application/octet-stream"
    assert int(response.headers[oip.HEADER_LENGTH]) == len(orjson.dumps(header))
    assert header["id"] == "r-1" and "parameters" not in header
    assert [output["parameters"] for output in header["outputs"]] == [
        {"binary_data_size": 16},
        {"binary_data_size": 32},
    ]
    np.testing.assert_array_equal(arrays["predict"], result.predictions)
    np.testing.assert_array_equal(arrays["predict_proba"], result.probabilities)
    np.testing.assert_array_equal(request.frame.to_numpy(), matrix)


def test_an_output_binary_flag_overrides_binary_data_output() -> None:
    outputs = [{"name": "predict", "parameters": {"binary_data": False}}, {"name": "predict_proba"}]
    request = decode_json(
        {
            "inputs": [matrix_input([1, 2, 3, 4, 5, 6], [2, 3])],
            "outputs": outputs,
            "parameters": {"binary_data_output": True},
        }
    )

    header, arrays = read_response(oip.encode(classifier_result(), request))

    assert header["outputs"][0]["data"] == [0, 1]
    assert header["outputs"][1]["parameters"] == {"binary_data_size": 32}
    np.testing.assert_array_equal(arrays["predict_proba"], classifier_result().probabilities)


def test_text_labels_are_bytes_in_json_and_in_binary() -> None:
    labels = np.array(["no", "yes"], dtype=object)
    as_json = decode_json(
        {"inputs": [matrix_input([1, 2, 3, 4, 5, 6], [2, 3])], "outputs": [{"name": "predict"}]}
    )
    as_binary = decode_json(
        {
            "inputs": [matrix_input([1, 2, 3, 4, 5, 6], [2, 3])],
            "outputs": [{"name": "predict", "parameters": {"binary_data": True}}],
        }
    )

    json_header, _ = read_response(oip.encode(classifier_result(predictions=labels), as_json))
    binary_header, arrays = read_response(oip.encode(classifier_result(predictions=labels), as_binary))

    assert json_header["outputs"][0] == {
        "name": "predict",
        "datatype": "BYTES",
        "shape": [2],
        "data": ["no", "yes"],
    }
    assert binary_header["outputs"][0]["parameters"] == {"binary_data_size": 4 + 2 + 4 + 3}
    assert arrays["predict"].tolist() == ["no", "yes"]


def test_tritonclient_requests_and_responses_round_trip() -> None:
    http = pytest.importorskip("tritonclient.http")
    # the function InferenceServerClient.infer builds its body with (in _utils in recent releases)
    build = getattr(http, "_get_inference_request", None)
    if build is None:
        build = importlib.import_module("tritonclient.http._utils")._get_inference_request

    matrix = np.array([[0.5, 1.5, 2.5], [3.5, 4.5, 5.5]])
    counts = np.array([3, 4], dtype=np.int64)
    flags = np.array([True, False])
    names = np.array([b"Oslo", b"Lima"], dtype=np.object_)
    inputs = []
    for name, values, datatype in [("x", matrix, "FP64")]:
        tensor = http.InferInput(name, list(values.shape), datatype)
        tensor.set_data_from_numpy(values, binary_data=True)
        inputs.append(tensor)
    columns = []
    for name, values, datatype in [
        ("count", counts, "INT64"),
        ("flag", flags, "BOOL"),
        ("city", names, "BYTES"),
    ]:
        tensor = http.InferInput(name, list(values.shape), datatype)
        tensor.set_data_from_numpy(values, binary_data=True)
        columns.append(tensor)
    accepted = inspect.signature(build).parameters
    arguments = {
        "request_id": "t-1",
        "outputs": None,
        "sequence_id": 0,
        "sequence_start": False,
        "sequence_end": False,
        "priority": 0,
        "timeout": None,
        "custom_parameters": None,
    }
    arguments = {key: value for key, value in arguments.items() if key in accepted}

    body, json_size = build(inputs=inputs, **arguments)
    matrix_request = oip.decode(body, {"Inference-Header-Content-Length": str(json_size)}, FEATURES)
    body, json_size = build(inputs=columns, **arguments)
    column_request = oip.decode(body, {"Inference-Header-Content-Length": str(json_size)}, None)

    np.testing.assert_array_equal(matrix_request.frame.to_numpy(), matrix)
    assert column_request.frame.to_dict("list") == {
        "count": [3, 4],
        "flag": [True, False],
        "city": ["Oslo", "Lima"],
    }
    response = oip.encode(classifier_result(request_id="t-1"), matrix_request)
    parsed = http.InferResult.from_response_body(
        response.body, False, response.headers.get(oip.HEADER_LENGTH)
    )
    np.testing.assert_array_equal(parsed.as_numpy("predict"), [0, 1])
    np.testing.assert_array_equal(parsed.as_numpy("predict_proba"), classifier_result().probabilities)


def test_encode_error_is_an_error_object() -> None:
    response = oip.encode_error("model 'fraud' not found", status=404)

    assert response.status == 404
    assert orjson.loads(response.body) == {"error": "model 'fraud' not found"}


def test_server_metadata_names_shipyard_and_the_binary_extension() -> None:
    assert oip.server_metadata() == {
        "name": "shipyard",
        "version": __version__,
        "extensions": ["binary_tensor_data"],
    }


def test_model_metadata_describes_one_input_per_contract_column() -> None:
    features = [
        ("amount", "float"),
        ("count", "integer"),
        ("member", "boolean"),
        ("city", "category"),
        ("note", "string"),
        ("seen", "datetime"),
    ]

    classifier = oip.model_metadata("fraud", [1, 3], "sklearn", features, "classification", 2)
    regressor = oip.model_metadata("price", ["7"], "xgboost", features[:1], "regression")
    labelled = oip.model_metadata(
        "churn", [1], "sklearn", [], "classification", classes=["no", "yes", "maybe"]
    )

    assert classifier == {
        "name": "fraud",
        "versions": ["1", "3"],
        "platform": "shipyard-sklearn",
        "inputs": [
            {"name": "amount", "datatype": "FP64", "shape": [-1]},
            {"name": "count", "datatype": "INT64", "shape": [-1]},
            {"name": "member", "datatype": "BOOL", "shape": [-1]},
            {"name": "city", "datatype": "BYTES", "shape": [-1]},
            {"name": "note", "datatype": "BYTES", "shape": [-1]},
            {"name": "seen", "datatype": "BYTES", "shape": [-1]},
        ],
        "outputs": [
            {"name": "predict", "datatype": "INT64", "shape": [-1]},
            {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 2]},
        ],
    }
    assert regressor["outputs"] == [{"name": "predict", "datatype": "FP64", "shape": [-1]}]
    assert labelled["outputs"] == [
        {"name": "predict", "datatype": "BYTES", "shape": [-1]},
        {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 3]},
    ]
    with pytest.raises(InvalidInput, match="contract type 'decimal'"):
        oip.model_metadata("x", [1], "sklearn", [("a", "decimal")], "regression")
