"""shipyard's native JSON codec: every accepted body decodes to the right frame, every bad one says why."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipyard.contracts import Problem
from shipyard.errors import ContractViolation, InvalidInput
from shipyard.serving.codecs import frame_from_columns, native
from shipyard.serving.results import DecodedRequest, PredictionResult


def decode(payload: Any) -> DecodedRequest:
    return native.decode(orjson.dumps(payload))


def test_records_decode_to_columns_in_first_seen_order_with_inferred_dtypes() -> None:
    request = decode({"records": [{"age": 31, "city": "Oslo", "score": 0.5}, {"age": 42, "score": 1}]})

    frame = request.frame
    assert list(frame.columns) == ["age", "city", "score"]
    assert frame["age"].tolist() == [31, 42]
    assert frame["age"].dtype == np.int64
    assert frame["score"].dtype == np.float64
    assert frame["city"].iloc[0] == "Oslo"
    assert pd.isna(frame["city"].iloc[1])  # a key missing from a row is a missing value
    assert request.text_input is False
    assert request.options == {"want_proba": True}


def test_a_column_first_seen_in_a_later_record_is_missing_in_earlier_rows() -> None:
    frame = decode({"records": [{"a": 1}, {"a": 2, "b": True}]}).frame

    assert list(frame.columns) == ["a", "b"]
    assert frame["b"].tolist() == [None, True]


def test_columns_decode_to_the_same_frame_as_records() -> None:
    by_columns = decode({"columns": {"age": [31, 42], "city": ["Oslo", None]}}).frame
    by_records = decode({"records": [{"age": 31, "city": "Oslo"}, {"age": 42, "city": None}]}).frame

    pd.testing.assert_frame_equal(by_columns, by_records)
    assert isinstance(by_columns.index, pd.RangeIndex)


def test_a_bare_list_is_a_list_of_records() -> None:
    frame = decode([{"x": 1.5}, {"x": None}]).frame

    assert frame["x"].dtype == np.float64
    assert frame["x"].iloc[0] == 1.5
    assert np.isnan(frame["x"].iloc[1])


@pytest.mark.parametrize(("given", "expected"), [(None, True), (True, True), (False, False)])
def test_return_proba_sets_want_proba(given: bool | None, expected: bool) -> None:
    payload: dict[str, Any] = {"records": [{"a": 1}]}
    if given is not None:
        payload["return_proba"] = given

    assert decode(payload).options["want_proba"] is expected


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"records": [', "the body is not valid JSON: "),
        (b"", "the body is not valid JSON: "),
        (b"42", "the body is a number"),
        (
            b'{"records": [{"a": 1}], "columns": {"a": [1]}}',
            "exactly one of the keys 'records' and 'columns'",
        ),
        (b'{"return_proba": true}', "exactly one of the keys 'records' and 'columns'"),
        (b'{"rows": [{"a": 1}]}', "unknown keys (rows)"),
        (b'{"records": {"a": 1}}', "'records' is an object"),
        (b'{"records": [{"a": 1}, [1, 2]]}', "record 1 is a list"),
        (b'{"records": []}', "the request has no rows"),
        (b"[]", "the request has no rows"),
        (b'{"columns": {}}', "the request has no rows"),
        (b'{"columns": {"a": []}}', "the request has no rows"),
        (b'{"columns": [1, 2]}', "'columns' is a list"),
        (b'{"columns": {"a": 1}}', "column 'a' is a number"),
        (b'{"records": [{"a": [1, 2]}]}', "row 0, column 'a' holds a list"),
        (b'{"records": [{"a": 1}], "return_proba": "yes"}', "'return_proba' is a string"),
    ],
)
def test_bad_bodies_raise_invalid_input_naming_the_problem(body: bytes, fragment: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        native.decode(body)

    assert fragment in str(raised.value)


def test_malformed_json_quotes_only_the_first_line_of_the_parser_message() -> None:
    with pytest.raises(InvalidInput) as raised:
        native.decode(b'{"records": [{"a": 1,}]}')

    message = str(raised.value)
    assert message.startswith("the body is not valid JSON: ")
    assert "\n" not in message


def test_ragged_columns_name_the_columns_and_their_lengths() -> None:
    with pytest.raises(InvalidInput) as raised:
        decode({"columns": {"a": [1, 2, 3], "b": [1, 2, 3], "c": [1, 2]}})

    message = str(raised.value)
    assert "a, b have 3" in message
    assert "c has 2" in message


def test_a_huge_ragged_request_gives_a_short_message() -> None:
    columns = {f"col{i}": [0] * (1 + i % 2) for i in range(5000)}

    with pytest.raises(InvalidInput) as raised:
        decode({"columns": columns})

    assert len(str(raised.value)) < 400
    assert "more" in str(raised.value)


def classifier_result(**overrides: Any) -> PredictionResult:
    values: dict[str, Any] = {
        "model": "fraud",
        "version": 3,
        "request_id": "req1",
        "predictions": np.array([0, 1]),
        "probabilities": np.array([[0.75, 0.25], [0.125, 0.875]]),
        "classes": [np.int64(0), np.int64(1)],
        "task": "classification",
    }
    values.update(overrides)
    return PredictionResult(**values)


def test_a_classifier_response_carries_ids_predictions_probabilities_and_classes() -> None:
    response = native.encode(
        classifier_result(), DecodedRequest(pd.DataFrame(), options={"want_proba": True})
    )

    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert orjson.loads(response.body) == {
        "model": "fraud",
        "version": 3,
        "request_id": "req1",
        "prediction_ids": ["req1-0", "req1-1"],
        "predictions": [0, 1],
        "probabilities": [[0.75, 0.25], [0.125, 0.875]],
        "classes": [0, 1],
    }


def test_a_regressor_response_has_no_probabilities_and_writes_nan_as_null() -> None:
    result = classifier_result(
        predictions=np.array([1.5, np.nan]), probabilities=None, classes=None, task="regression"
    )

    body = orjson.loads(native.encode(result, DecodedRequest(pd.DataFrame())).body)

    assert body["predictions"] == [1.5, None]
    assert "probabilities" not in body
    assert "classes" not in body


def test_return_proba_false_leaves_probabilities_out() -> None:
    request = DecodedRequest(pd.DataFrame(), options={"want_proba": False})

    body = orjson.loads(native.encode(classifier_result(), request).body)

    assert "probabilities" not in body
    assert "classes" not in body


def test_a_rejection_is_422_with_at_most_fifty_problems() -> None:
    problems = [Problem(row, "amount", "below_min", str(-row)) for row in range(80)]
    error = ContractViolation("80 of 80 rows break the contract of 'fraud' version 3", problems)

    response = native.encode_rejection(error, "req9")

    body = orjson.loads(response.body)
    assert response.status == 422
    assert body["error"] == "80 of 80 rows break the contract of 'fraud' version 3"
    assert body["request_id"] == "req9"
    assert len(body["problems"]) == native.MAX_PROBLEMS == 50
    assert body["problems"][1] == {"row": 1, "column": "amount", "problem": "below_min", "value": "-1"}


def test_encode_error_carries_message_status_and_request_id() -> None:
    response = native.encode_error("model 'fraud' not found", status=404, request_id="r")

    assert response.status == 404
    assert orjson.loads(response.body) == {"error": "model 'fraud' not found", "request_id": "r"}


_NAMES = st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=4, unique=True)
#: One JSON type per column, as real tables have, each value possibly null.
_KINDS = {
    "integer": st.integers(min_value=-(2**53), max_value=2**53),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "text": st.text(max_size=5),
    "boolean": st.booleans(),
}


@st.composite
def _tables(draw: st.DrawFn) -> tuple[list[str], int, dict[str, list[Any]]]:
    names = draw(_NAMES)
    rows = draw(st.integers(min_value=1, max_value=6))
    columns: dict[str, list[Any]] = {}
    for name in names:
        element = _KINDS[draw(st.sampled_from(sorted(_KINDS)))]
        columns[name] = draw(st.lists(st.one_of(element, st.none()), min_size=rows, max_size=rows))
    return names, rows, columns


@settings(max_examples=60, deadline=None)
@given(_tables())
def test_columns_and_records_forms_decode_to_the_same_frame(
    table: tuple[list[str], int, dict[str, list[Any]]],
) -> None:
    names, rows, columns = table
    records = [{name: columns[name][row] for name in names} for row in range(rows)]

    by_columns = decode({"columns": columns}).frame
    by_records = decode({"records": records}).frame

    pd.testing.assert_frame_equal(by_columns, by_records)
    assert list(by_columns.columns) == names
    assert len(by_columns) == rows


@given(
    st.lists(
        st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=3, max_size=3),
        min_size=1,
        max_size=20,
    )
)
def test_rows_of_floats_build_the_frame_pandas_would_infer(rows: list[list[float]]) -> None:
    columns = {name: [row[index] for row in rows] for index, name in enumerate(["a", "b", "c"])}
    expected = pd.DataFrame(columns, index=pd.RangeIndex(len(rows)))
    pd.testing.assert_frame_equal(frame_from_columns(columns, len(rows)), expected)
