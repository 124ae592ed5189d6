"""What every codec shares: compressed bodies within the limit, columns the model does not take, and MLflow's
statuses for errors that carry their own."""

from __future__ import annotations

import gzip
import struct
import time
import zlib
from typing import Any

import orjson
import pytest

from shipyard.errors import (
    ContractViolation,
    InvalidInput,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    ShipyardError,
    UnsupportedMediaType,
)
from shipyard.serving.codecs import decompressed, mlflow, native, oip

FEATURES = ["amount", "hour"]
RECORD = {"amount": 12.5, "hour": 3}


# -- Content-Encoding ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("GZIP", gzip.compress),
        ("deflate", zlib.compress),
        ("gzip, identity", gzip.compress),
        ("identity", lambda body: body),
    ],
)
def test_compressed_bodies_are_read_back(encoding: str, compress: Any) -> None:
    body = orjson.dumps({"records": [RECORD]})

    assert decompressed(compress(body), encoding, limit=1000) == body


def test_concatenated_gzip_members_are_one_body() -> None:
    assert decompressed(gzip.compress(b"ab") + gzip.compress(b"cd"), "gzip", limit=10) == b"abcd"


def test_two_codings_are_undone_in_reverse_order() -> None:
    body = b'{"records": []}'

    assert decompressed(gzip.compress(zlib.compress(body)), "deflate, gzip", limit=100) == body


def test_a_gzip_bomb_is_refused_at_the_limit_without_unfolding() -> None:
    bomb = gzip.compress(b"0" * 200_000_000)  # 200 MB of zeros in about 200 kB
    started = time.perf_counter()

    with pytest.raises(PayloadTooLarge) as raised:
        decompressed(bomb, "gzip", limit=1_000_000)

    assert raised.value.http_status == 413
    assert "once decompressed" in str(raised.value)
    assert time.perf_counter() - started < 1.0


def test_exactly_the_limit_is_accepted() -> None:
    assert len(decompressed(gzip.compress(b"x" * 1000), "gzip", limit=1000)) == 1000


@pytest.mark.parametrize("encoding", ["br", "compress", "zstd", "gzip, br"])
def test_an_unknown_content_encoding_is_415(encoding: str) -> None:
    with pytest.raises(UnsupportedMediaType) as raised:
        decompressed(b"{}", encoding, limit=100)

    assert raised.value.http_status == 415
    assert "gzip" in str(raised.value)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [(b"{}", "not valid gzip data"), (gzip.compress(b"{}", mtime=0)[:-6], "ends early")],
    ids=["not-gzip", "cut-short"],
)
def test_a_damaged_gzip_stream_is_400(body: bytes, fragment: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        decompressed(body, "gzip", limit=100)

    assert raised.value.http_status == 400
    assert fragment in str(raised.value)


# -- columns the model does not take -------------------------------------------------------------------------
WIDE = {**RECORD, **{f"x{i}": 1.0 for i in range(20_000)}}
JSON = "application/json"


def _oip_columns(record: dict[str, Any]) -> bytes:
    inputs = [
        {"name": name, "shape": [1], "datatype": "FP64", "data": [value]} for name, value in record.items()
    ]
    return orjson.dumps({"inputs": inputs})


DECODERS = {
    "native records": lambda extra: native.decode(
        orjson.dumps({"records": [WIDE]}), FEATURES, extra_columns=extra
    ),
    "native columns": lambda extra: native.decode(
        orjson.dumps({"columns": {k: [v] for k, v in WIDE.items()}}), FEATURES, extra_columns=extra
    ),
    "native list": lambda extra: native.decode(orjson.dumps([WIDE, RECORD]), FEATURES, extra_columns=extra),
    "mlflow records": lambda extra: mlflow.decode(
        orjson.dumps({"dataframe_records": [WIDE]}), JSON, FEATURES, extra_columns=extra
    ),
    "mlflow split": lambda extra: mlflow.decode(
        orjson.dumps({"dataframe_split": {"columns": list(WIDE), "data": [list(WIDE.values())]}}),
        JSON,
        FEATURES,
        extra_columns=extra,
    ),
    "mlflow inputs": lambda extra: mlflow.decode(
        orjson.dumps({"inputs": {k: [v] for k, v in WIDE.items()}}), JSON, FEATURES, extra_columns=extra
    ),
    "mlflow csv": lambda extra: mlflow.decode(
        (",".join(WIDE) + "\n" + ",".join(map(str, WIDE.values())) + "\n").encode(),
        "text/csv",
        FEATURES,
        extra_columns=extra,
    ),
    "oip columns": lambda extra: oip.decode(_oip_columns(WIDE), {}, FEATURES, extra_columns=extra),
}


@pytest.mark.parametrize("decoder", DECODERS)
def test_columns_the_model_does_not_take_are_dropped_before_the_frame_is_built(decoder: str) -> None:
    started = time.perf_counter()
    frame = DECODERS[decoder]("drop").frame

    assert list(frame.columns) == FEATURES
    assert frame["amount"].iloc[0] == 12.5
    assert time.perf_counter() - started < 2.0  # building 20,000 columns took seconds


@pytest.mark.parametrize("decoder", DECODERS)
def test_columns_the_model_does_not_take_are_refused_when_the_contract_rejects_them(decoder: str) -> None:
    with pytest.raises(ContractViolation) as raised:
        DECODERS[decoder]("reject")

    assert raised.value.http_status == 422
    assert "20,000 columns the model does not take (x0, x1" in str(raised.value)
    assert len(raised.value.problems) == 50
    assert {problem.problem for problem in raised.value.problems} == {"unexpected_column"}


def test_extra_columns_are_kept_when_the_contract_keeps_them() -> None:
    frame = native.decode(
        orjson.dumps({"records": [{**RECORD, "note": "x"}]}), FEATURES, extra_columns="keep"
    ).frame

    assert list(frame.columns) == [*FEATURES, "note"]


def test_dropping_keeps_a_missing_feature_missing_for_the_contract_to_report() -> None:
    frame = native.decode(
        orjson.dumps({"records": [{"amount": 1.0, "other": 2}]}), FEATURES, extra_columns="drop"
    ).frame

    assert list(frame.columns) == ["amount"]


def test_a_single_oip_input_is_read_whatever_its_name() -> None:
    body = orjson.dumps(
        {"inputs": [{"name": "input0", "shape": [1, 2], "datatype": "FP64", "data": [1.0, 2.0]}]}
    )

    frame = oip.decode(body, {}, FEATURES, extra_columns="drop").frame

    assert list(frame.columns) == FEATURES


def test_a_dropped_oip_input_s_binary_data_is_passed_over() -> None:
    header = orjson.dumps(
        {
            "inputs": [
                {"name": "x", "shape": [1], "datatype": "FP64", "parameters": {"binary_data_size": 8}},
                {"name": "amount", "shape": [1], "datatype": "FP64", "parameters": {"binary_data_size": 8}},
                {"name": "hour", "shape": [1], "datatype": "INT64", "data": [3]},
            ]
        }
    )
    body = header + struct.pack("<d", 99.0) + struct.pack("<d", 12.5)

    frame = oip.decode(body, {oip.HEADER_LENGTH: str(len(header))}, FEATURES, extra_columns="drop").frame

    assert list(frame.columns) == ["amount", "hour"]
    assert frame["amount"].iloc[0] == 12.5


# -- CSV duplicate columns -----------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [b"a,b,a\n1,2,3\n", b'a,"a"\n1,2\n', b",\n1,2\n"])
def test_a_csv_naming_a_column_twice_is_refused_like_json(body: bytes) -> None:
    with pytest.raises(InvalidInput) as raised:
        mlflow.decode(body, "text/csv")

    assert raised.value.http_status == 400
    assert "more than once" in str(raised.value)


# -- MLflow statuses -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (PayloadTooLarge("the body is over 1,024 bytes"), 413, "BAD_REQUEST"),
        (InvalidInput("the request has no rows"), 400, "BAD_REQUEST"),
        (ContractViolation("the input breaks the model's data contract"), 400, "BAD_REQUEST"),
        (NotFound("model 'x' not found"), 404, "RESOURCE_DOES_NOT_EXIST"),
        (Overloaded("the queue is full", retry_after=1.0), 503, "TEMPORARILY_UNAVAILABLE"),
    ],
)
def test_mlflow_failures_answer_with_the_status_of_their_class(
    error: ShipyardError, status: int, code: str
) -> None:
    encoded = mlflow.encode_failure(error, error.http_status, "req")

    assert encoded.status == status
    assert orjson.loads(encoded.body)["error_code"] == code


# -- more rows than the server's queue holds: refused before any row is read ---------------------------------
_TOO_MANY = 101  # rows; each body below holds values no decoder would accept, so only an early 413 passes
_ROWS_OVER_LIMIT = {
    "native records": lambda: native.decode(orjson.dumps({"records": [1] * _TOO_MANY}), max_rows=100),
    "native columns": lambda: native.decode(orjson.dumps({"columns": {"a": [[]] * _TOO_MANY}}), max_rows=100),
    "mlflow split": lambda: mlflow.decode(
        orjson.dumps({"dataframe_split": {"data": [{}] * _TOO_MANY}}), "application/json", max_rows=100
    ),
    "mlflow records": lambda: mlflow.decode(
        orjson.dumps({"dataframe_records": [[]] + [1] * 100}), "application/json", max_rows=100
    ),
    "mlflow inputs": lambda: mlflow.decode(
        orjson.dumps({"inputs": {"a": [[]] * _TOO_MANY}}), "application/json", max_rows=100
    ),
    "mlflow csv": lambda: mlflow.decode(b"a\n" + b"1\n" * _TOO_MANY, "text/csv", max_rows=100),
    "oip json": lambda: oip.decode(
        orjson.dumps({"inputs": [{"name": "a", "datatype": "FP64", "shape": [_TOO_MANY], "data": [1]}]}),
        {},
        max_rows=100,
    ),
}


@pytest.mark.parametrize("form", _ROWS_OVER_LIMIT)
def test_a_request_over_the_queue_is_413_before_its_rows_are_read(form: str) -> None:
    with pytest.raises(PayloadTooLarge, match=r"101 rows.*--max-queue-rows"):
        _ROWS_OVER_LIMIT[form]()


def test_a_request_at_the_limit_decodes() -> None:
    decoded = native.decode(orjson.dumps({"columns": {"a": [1.0] * 100}}), max_rows=100)
    assert len(decoded.frame) == 100
