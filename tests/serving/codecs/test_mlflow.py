"""MLflow's scoring protocol: the bodies ``mlflow models serve`` accepts decode to the right frame."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from shipyard import __version__
from shipyard.errors import InvalidInput, UnsupportedMediaType
from shipyard.serving.codecs import mlflow
from shipyard.serving.results import DecodedRequest, PredictionResult

FEATURES = ["a", "b", "c", "d"]
EXPECTED = pd.DataFrame({"a": [1, 5], "b": [2.5, 6.5], "c": ["x", "y"], "d": [True, False]})


def decode(payload: Any, content_type: str | None = "application/json", features: Any = FEATURES) -> Any:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return mlflow.decode(body, content_type, features)


ROWS = [[1, 2.5, "x", True], [5, 6.5, "y", False]]
RECORDS = [{"a": 1, "b": 2.5, "c": "x", "d": True}, {"a": 5, "b": 6.5, "c": "y", "d": False}]


@pytest.mark.parametrize(
    "payload",
    [
        {"dataframe_split": {"columns": FEATURES, "data": ROWS}},
        {"dataframe_split": {"columns": FEATURES, "data": ROWS, "index": [10, 11]}},
        {"dataframe_split": {"data": ROWS}},  # no columns: positions take the model's feature names
        {"dataframe_records": RECORDS},
        {"instances": RECORDS},
        {"instances": ROWS},
        {"inputs": {"a": [1, 5], "b": [2.5, 6.5], "c": ["x", "y"], "d": [True, False]}},
        {"inputs": ROWS},
        {"inputs": RECORDS},
        {"instances": {"a": [1, 5], "b": [2.5, 6.5], "c": ["x", "y"], "d": [True, False]}},
    ],
    ids=lambda payload: next(iter(payload)) + ("-" + type(next(iter(payload.values()))).__name__),
)
def test_every_json_form_decodes_to_the_same_frame(payload: dict[str, Any]) -> None:
    request = decode(payload)

    pd.testing.assert_frame_equal(request.frame, EXPECTED)
    assert request.text_input is False
    assert request.options["want_proba"] is False
    assert request.options["format"] == next(iter(payload))


def test_content_type_parameters_and_case_are_accepted() -> None:
    request = decode({"inputs": ROWS}, "Application/JSON; charset=UTF-8")

    pd.testing.assert_frame_equal(request.frame, EXPECTED)


def test_params_pass_through_in_options_and_other_keys_are_ignored_like_mlflow() -> None:
    request = decode({"dataframe_records": RECORDS, "params": {"threshold": 0.3}, "extra": 1})

    assert request.options["params"] == {"threshold": 0.3}
    pd.testing.assert_frame_equal(request.frame, EXPECTED)


def test_positional_rows_without_feature_names_get_position_names() -> None:
    frame = decode({"instances": [[1, 2], [3, 4]]}, features=None).frame

    assert list(frame.columns) == ["0", "1"]
    assert frame["1"].tolist() == [2, 4]


def test_single_values_are_one_feature_rows() -> None:
    frame = decode({"instances": [1.5, 2.5, 3.5]}, features=["amount"]).frame

    assert frame["amount"].tolist() == [1.5, 2.5, 3.5]


def test_an_inputs_object_of_single_values_is_one_row() -> None:
    frame = decode({"inputs": {"a": 1, "c": "x"}}).frame

    assert frame.to_dict("records") == [{"a": 1, "c": "x"}]


def test_csv_is_parsed_by_pandas_and_marked_as_text_input() -> None:
    request = decode(b"a,b,c,d\n1,2.5,x,true\n5,6.5,y,false\n", "text/csv")

    assert request.text_input is True
    assert request.options["format"] == "csv"
    assert list(request.frame.columns) == FEATURES
    assert request.frame["a"].dtype == np.int64
    assert request.frame["b"].dtype == np.float64
    assert request.frame["c"].tolist() == ["x", "y"]
    assert request.frame["d"].tolist() == [True, False]


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/x-www-form-urlencoded"])
def test_a_missing_or_other_content_type_is_unsupported_naming_the_accepted_types(
    content_type: str | None,
) -> None:
    with pytest.raises(UnsupportedMediaType) as raised:
        decode({"inputs": ROWS}, content_type)

    assert raised.value.http_status == 415
    assert isinstance(raised.value, InvalidInput)
    assert "application/json" in str(raised.value)
    assert "text/csv" in str(raised.value)


@pytest.mark.parametrize(
    ("content_type", "fragment"),
    [("application/json; charset=latin-1", "charset 'latin-1'"), ("text/csv; header=present", "'header'")],
)
def test_content_type_parameters_other_than_utf8_charset_are_unsupported(
    content_type: str, fragment: str
) -> None:
    with pytest.raises(UnsupportedMediaType) as raised:
        decode(b"a\n1\n", content_type)

    assert fragment in str(raised.value)


KEYS = "dataframe_split, dataframe_records, instances, inputs"


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b'{"inputs": [', "the body is not valid JSON: "),
        ([[1, 2]], f"the body is a list; it must be a JSON object with exactly one of the keys {KEYS}"),
        ({"data": ROWS}, f"the body must have exactly one of the keys {KEYS}; its keys are: data"),
        ({}, f"exactly one of the keys {KEYS}; its keys are: none"),
        ({"instances": ROWS, "inputs": ROWS}, "exactly one of the keys"),
        ({"inputs": ROWS, "params": [1]}, "'params' is a list"),
        ({"dataframe_split": ROWS}, "'dataframe_split' is a list"),
        ({"dataframe_split": {"columns": FEATURES}}, "'dataframe_split' has no 'data'"),
        ({"dataframe_split": {"data": ROWS, "orient": "split"}}, "unknown keys (orient)"),
        ({"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}, "names a more than once"),
        (
            {"dataframe_split": {"columns": FEATURES, "data": ROWS, "index": [1]}},
            "'dataframe_split.index' has 1 label but 'data' has 2 rows",
        ),
        (
            {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3]]}},
            "row 1 has 1 value but 'columns'",
        ),
        ({"dataframe_records": {"a": [1]}}, "'dataframe_records' is an object"),
        ({"instances": []}, "the request has no rows"),
        ({"inputs": {}}, "the request has no rows"),
        ({"inputs": {"a": [1, 2], "b": 3}}, "mixes lists and single values (column 'b' is a number)"),
        ({"inputs": {"a": [1, 2], "b": [3]}}, "the columns have different lengths"),
        ({"instances": [[1, 2, 3, 4], {"a": 1}]}, "row 1 is an object but row 0 is not"),
        ({"instances": "abc"}, "'instances' is a string"),
        ({"instances": [[[1], 2, 3, 4]]}, "row 0, column 'a' holds a list"),
    ],
)
def test_bad_json_bodies_raise_invalid_input_naming_the_problem(payload: Any, fragment: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        decode(payload)

    assert fragment in str(raised.value)
    assert not isinstance(raised.value, UnsupportedMediaType)


def test_a_row_of_the_wrong_length_names_the_row_and_the_model_features() -> None:
    rows = [[1, 2, 3, 4]] * 3 + [[1, 2, 3, 4, 5]]

    with pytest.raises(InvalidInput) as raised:
        decode({"instances": rows})

    assert str(raised.value) == "row 3 has 5 values but the model takes 4 features (a, b, c, d)"


def test_long_and_many_unknown_keys_are_cut_in_the_message() -> None:
    payload = {"x" * 10_000: 1, **{f"key{i}": i for i in range(100)}}

    with pytest.raises(InvalidInput) as raised:
        decode(payload)

    assert len(str(raised.value)) < 300
    assert "and 91 more" in str(raised.value)


def test_a_trailing_semicolon_in_the_content_type_is_harmless() -> None:
    pd.testing.assert_frame_equal(decode({"inputs": ROWS}, "application/json;").frame, EXPECTED)


def test_a_huge_row_is_counted_not_echoed() -> None:
    with pytest.raises(InvalidInput) as raised:
        decode({"instances": [list(range(100_000))]})

    assert str(raised.value) == "row 0 has 100000 values but the model takes 4 features (a, b, c, d)"


def test_many_feature_names_are_cut_in_the_message() -> None:
    features = [f"f{i}" for i in range(300)]

    with pytest.raises(InvalidInput) as raised:
        decode({"instances": [[1, 2]]}, features=features)

    assert "300 features (f0, f1" in str(raised.value)
    assert "and 290 more" in str(raised.value)
    assert len(str(raised.value)) < 200


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "the request has no rows"),
        (b"a,b\n", "the request has no rows"),
        (b'a,b\n1,"unterminated\n', "the CSV body could not be parsed"),
        (b"a,b\n1,2\n3,4,5\n", "the CSV body could not be parsed: Error tokenizing data"),
        (b"a,b\n1,2,3,4\n5,6\n", "the CSV rows have more fields than the header's 2 names"),
        (b"a\n\xff\xfe\n", "the CSV body is not valid UTF-8 (at byte 2)"),
    ],
)
def test_bad_csv_raises_invalid_input(body: bytes, fragment: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        decode(body, "text/csv")

    assert fragment in str(raised.value)


def result(predictions: np.ndarray) -> PredictionResult:
    return PredictionResult("fraud", 3, "req1", predictions, task="classification")


def test_the_response_is_predictions_only() -> None:
    response = mlflow.encode(result(np.array([0, 1, 1])), DecodedRequest(pd.DataFrame()))

    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert response.body == b'{"predictions":[0,1,1]}'


def test_labels_and_missing_values_are_plain_json() -> None:
    labels = orjson.loads(
        mlflow.encode(result(np.array(["no", "yes"], dtype=object)), DecodedRequest(EXPECTED)).body
    )
    values = orjson.loads(mlflow.encode(result(np.array([0.5, np.nan])), DecodedRequest(EXPECTED)).body)

    assert labels == {"predictions": ["no", "yes"]}
    assert values == {"predictions": [0.5, None]}


def test_errors_use_mlflow_codes_and_statuses() -> None:
    bad = mlflow.encode_error("the request has no rows")
    unknown = mlflow.encode_error("boom", code="SOMETHING_NEW")

    assert bad.status == 400
    assert orjson.loads(bad.body) == {"error_code": "BAD_REQUEST", "message": "the request has no rows"}
    assert mlflow.encode_error("gone", code="RESOURCE_DOES_NOT_EXIST").status == 404
    assert unknown.status == 500


def test_invalid_input_maps_to_400_json_and_media_types_to_415_text() -> None:
    media = mlflow.encode_invalid_input(UnsupportedMediaType("Content-Type 'text/plain' is not supported"))
    bad = mlflow.encode_invalid_input(InvalidInput("the request has no rows"))

    assert media.status == 415
    assert media.headers["content-type"].startswith("text/plain")
    assert media.body == b"Content-Type 'text/plain' is not supported"
    assert bad.status == 400
    assert orjson.loads(bad.body)["error_code"] == "BAD_REQUEST"


def test_ping_and_version_answer_like_mlflow() -> None:
    ready = mlflow.ping_response(ready=True)
    loading = mlflow.ping_response(ready=False)
    version = mlflow.version_response()

    assert (ready.status, ready.body) == (200, b"\n")
    assert loading.status == 503
    assert (version.status, version.body) == (200, __version__.encode())
    assert mlflow.version_response("9.9.9").body == b"9.9.9"
    assert mlflow.HEALTH_ROUTES == ("/ping", "/health")
