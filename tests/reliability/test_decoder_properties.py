"""Every protocol decoder and the contract validator, fed hostile input: an answer or a 4xx, never a crash.

A request body reaches the server's engine through a codec (native JSON, MLflow JSON and CSV, OIP JSON and
binary tensors) and then the contract validator. Whatever a client sends, each step must either give its
result or raise a ``ShipyardError`` whose HTTP status is a 4xx: any other exception, or a 5xx, is a server
error the client did not cause. Hypothesis drives them with arbitrary bytes and with bodies that have the
protocol's shape but wrong contents (wrong types, NaN and infinity, huge numbers, nested values, unicode,
empty containers, duplicate keys). Derandomized, so a run is repeatable; ``bounds.EXAMPLES`` cases each.
"""

from __future__ import annotations

import gzip
import json
import struct
import zlib
from collections.abc import Callable
from functools import partial
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shipyard.contracts import ColumnContract, Contract
from shipyard.errors import ShipyardError
from shipyard.serving.codecs import decompressed, mlflow, native, oip
from shipyard.serving.results import DecodedRequest
from tests.reliability.bounds import EXAMPLES

FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: A contract with one column of every type and the rules a user can tighten, so each check runs.
CONTRACT = Contract(
    (
        ColumnContract("amount", "float", nullable=False, minimum=0.0, maximum=1e6),
        ColumnContract("hour", "integer", nullable=True, minimum=0, maximum=23),
        ColumnContract("channel", "category", nullable=False, categories=("web", "pos"), closed=True),
        ColumnContract("flag", "boolean", nullable=True),
        ColumnContract("note", "string", nullable=True, required=False),
        ColumnContract("seen", "datetime", nullable=True, required=False, timezone="UTC"),
    )
)
KEEP = Contract(CONTRACT.columns, extra_columns="keep")
REJECT = Contract(CONTRACT.columns, extra_columns="reject")
#: Each extra-columns policy, and the contract that has it: the server decodes with its contract's policy.
POLICIES = {"drop": CONTRACT, "keep": KEEP, "reject": REJECT}
NAMES = CONTRACT.names

# --- hostile JSON values ---------------------------------------------------------------------------------

HUGE = st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**30, -(10**30), 1e308, -1e308, 5e-324])
WEIRD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "NaN",
        "inf",
        "-Infinity",
        "1e999",
        "٣",
        "²",
        "𝟗",
        "true",
        "0x1F",
        "2024-02-30",
        "\u0000",
        "\ud7ff",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    HUGE,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    WEIRD_TEXT,
)
#: Any JSON value (NaN and infinity included, written as the non-standard tokens Python emits).
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(NAMES), st.text(max_size=6)), inner, max_size=4),
    ),
    max_leaves=12,
)
#: Column names: the contract's, near misses, unicode and the empty name.
COLUMN_NAMES = st.one_of(
    st.sampled_from([*NAMES, "", "Amount", "0", "ämount", "a" * 300]), st.text(max_size=8)
)
#: Per-column cells: mostly scalars, sometimes something nested.
CELLS = st.one_of(SCALARS, VALUES)


def dump(value: Any) -> bytes:
    """JSON text as a careless client writes it: NaN/Infinity tokens kept, non-ASCII as is."""
    return json.dumps(value, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass")


@st.composite
def duplicated_keys(draw: st.DrawFn, body: bytes) -> bytes:
    """``body`` (a JSON object) with one of its keys written a second time, which JSON does not forbid."""
    text = body.decode("utf-8", "surrogatepass")
    if not text.startswith("{") or text == "{}":
        return body
    key = draw(st.sampled_from(['"records"', '"columns"', '"inputs"', '"instances"', '"dataframe_split"']))
    value = draw(VALUES)
    return ("{" + f"{key}: {dump(value).decode('utf-8', 'surrogatepass')}, " + text[1:]).encode(
        "utf-8", "surrogatepass"
    )


def json_bodies(values: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """``values`` written as JSON, sometimes with a key written twice."""
    return values.map(dump).flatmap(lambda body: st.one_of(st.just(body), duplicated_keys(body)))


def rows_of(cells: st.SearchStrategy[Any]) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(st.dictionaries(COLUMN_NAMES, cells, max_size=5), max_size=4)


def columns_of(cells: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(COLUMN_NAMES, st.one_of(st.lists(cells, max_size=4), cells), max_size=5)


# --- the property ----------------------------------------------------------------------------------------


def refused_or_decoded(decode: Callable[[], DecodedRequest], body: bytes) -> DecodedRequest | None:
    """Run ``decode``: its result, or None when it refused with a 4xx ShipyardError; anything else fails,
    naming the body (hypothesis's report of a failing example does not show bytes this long)."""
    try:
        return decode()
    except ShipyardError as error:
        assert 400 <= error.http_status < 500, f"{type(error).__name__} answers {error.http_status}: {error}"
        return None
    except Exception as error:
        raise AssertionError(f"{type(error).__name__}: {error} on body {body[:400]!r}") from error


def validated(request: DecodedRequest | None, contract: Contract) -> None:
    """The decoded rows through ``contract``'s validator, as the engine calls it (split) and training does."""
    if request is None:
        return
    frame = request.frame
    assert isinstance(frame, pd.DataFrame)
    for mode in ("split", "reject"):
        try:
            result = contract.validate(frame, mode=mode, text_input=request.text_input, max_problems=50)
        except ShipyardError as error:
            assert 400 <= error.http_status < 500, f"validate raised {type(error).__name__}: {error}"
            continue
        except Exception as error:
            shown = frame.head(3).to_dict("list")
            raise AssertionError(
                f"validate raised {type(error).__name__}: {error} on {shown!r:.400}"
            ) from error
        assert len(result.valid) + len(result.rejected) == len(frame)
        assert len(result.problems) <= 50


def decoded_and_validated(decode: Callable[[str], DecodedRequest], body: bytes) -> None:
    """``decode`` under each extra-columns policy, then the validator of a contract with that policy."""
    for policy, contract in POLICIES.items():
        validated(refused_or_decoded(partial(decode, policy), body), contract)


def native_decode(body: bytes, features: list[str] | None = NAMES) -> None:
    decoded_and_validated(lambda policy: native.decode(body, features, extra_columns=policy), body)


def mlflow_decode(body: bytes, content_type: str, features: list[str] | None = NAMES) -> None:
    decoded_and_validated(
        lambda policy: mlflow.decode(body, content_type, features, extra_columns=policy), body
    )


def oip_decode(body: bytes, headers: dict[str, str], features: list[str] | None = NAMES) -> None:
    decoded_and_validated(lambda policy: oip.decode(body, headers, features, extra_columns=policy), body)


# --- arbitrary bytes -------------------------------------------------------------------------------------


@FUZZ
@given(body=st.binary(max_size=200))
def test_arbitrary_bytes_never_crash_a_decoder(body: bytes) -> None:
    native_decode(body)
    mlflow_decode(body, "application/json")
    mlflow_decode(body, "text/csv")
    oip_decode(body, {})
    oip_decode(body, {oip.HEADER_LENGTH: str(max(1, len(body) // 2))})


@FUZZ
@given(body=st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")))
def test_arbitrary_text_never_crashes_a_decoder(body: bytes) -> None:
    native_decode(body)
    mlflow_decode(body, "application/json; charset=utf-8")
    mlflow_decode(body, "text/csv")
    oip_decode(body, {"Content-Type": "application/json"})


@FUZZ
@given(content_type=st.one_of(st.text(max_size=60), st.sampled_from(["", ";", "text/csv; charset=latin-1"])))
def test_any_content_type_is_refused_or_read(content_type: str) -> None:
    mlflow_decode(b'{"inputs": [[1.0, 2, "web", true]]}', content_type)


# --- native JSON -----------------------------------------------------------------------------------------


@FUZZ
@given(
    body=json_bodies(
        st.one_of(
            rows_of(CELLS).map(lambda rows: {"records": rows}),
            rows_of(CELLS),
            columns_of(CELLS).map(lambda columns: {"columns": columns}),
            st.dictionaries(
                st.sampled_from(["records", "columns", "return_proba", "extra"]), VALUES, max_size=3
            ),
            VALUES,
        )
    ),
    known=st.booleans(),
)
def test_native_json_rows_and_columns(body: bytes, known: bool) -> None:
    native_decode(body, NAMES if known else None)


# --- MLflow JSON and CSV ---------------------------------------------------------------------------------

SPLIT = st.fixed_dictionaries(
    {"data": st.one_of(st.lists(st.one_of(st.lists(CELLS, max_size=5), CELLS), max_size=4), VALUES)},
    optional={
        "columns": st.one_of(st.lists(COLUMN_NAMES, max_size=5), VALUES),
        "index": st.one_of(st.lists(SCALARS, max_size=4), VALUES),
    },
)
MLFLOW_BODIES = st.one_of(
    SPLIT.map(lambda split: {"dataframe_split": split}),
    rows_of(CELLS).map(lambda rows: {"dataframe_records": rows}),
    st.one_of(rows_of(CELLS), st.lists(st.lists(CELLS, max_size=5), max_size=4), columns_of(CELLS)).flatmap(
        lambda value: st.sampled_from(["instances", "inputs"]).map(lambda key: {key: value})
    ),
    st.dictionaries(st.sampled_from([*mlflow.FORMATS, "params", "other"]), VALUES, max_size=3),
    VALUES,
)


@FUZZ
@given(body=json_bodies(MLFLOW_BODIES), positional=st.booleans())
def test_mlflow_json_every_format(body: bytes, positional: bool) -> None:
    mlflow_decode(body, "application/json", NAMES if positional else None)


CSV_CELLS = st.one_of(
    st.sampled_from(
        ["", "1", "-0", "1e999", "NaN", "nan", "inf", "web", "pos", "true", "²", '"a,b"', '"', "\r"]
    ),
    st.text(max_size=6),
    st.integers().map(str),
    st.floats().map(repr),
)


@st.composite
def csv_bodies(draw: st.DrawFn) -> bytes:
    """A CSV table: a header (duplicates and blanks possible), then rows of any width, any line endings."""
    header = draw(st.lists(COLUMN_NAMES.map(lambda name: name.replace("\n", "")), max_size=6))
    width = st.integers(0, len(header) + 2)
    rows = draw(st.lists(width.flatmap(lambda n: st.lists(CSV_CELLS, min_size=n, max_size=n)), max_size=5))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines = [",".join(header), *(",".join(row) for row in rows)]
    return newline.join(lines).encode("utf-8", "surrogatepass")


@FUZZ
@given(body=csv_bodies())
def test_mlflow_csv(body: bytes) -> None:
    mlflow_decode(body, "text/csv")
    mlflow_decode(body, "text/csv; charset=utf-8", None)


# --- OIP JSON and binary tensors -------------------------------------------------------------------------

DATATYPES = st.one_of(st.sampled_from([*oip.DATATYPES, "fp64", "STRING", ""]), VALUES)
SHAPES = st.one_of(
    st.lists(st.integers(0, 4), min_size=1, max_size=3),
    st.lists(st.integers(-(2**64), 2**64), max_size=3),
    VALUES,
)
TENSOR = st.fixed_dictionaries(
    {"name": st.one_of(st.sampled_from(NAMES), COLUMN_NAMES, VALUES)},
    optional={
        "shape": SHAPES,
        "datatype": DATATYPES,
        "data": st.one_of(
            st.lists(CELLS, max_size=6), st.lists(st.lists(CELLS, max_size=3), max_size=3), CELLS
        ),
        "parameters": st.one_of(st.fixed_dictionaries({"binary_data_size": st.integers(-2, 40)}), VALUES),
    },
)
OIP_BODIES = st.one_of(
    st.fixed_dictionaries(
        {"inputs": st.one_of(st.lists(TENSOR, max_size=4), VALUES)},
        optional={
            "id": VALUES,
            "parameters": st.one_of(st.fixed_dictionaries({"binary_data_output": VALUES}), VALUES),
            "outputs": st.one_of(
                st.lists(
                    st.fixed_dictionaries({"name": st.one_of(st.sampled_from(oip.OUTPUT_NAMES), VALUES)})
                ).map(list),
                VALUES,
            ),
        },
    ),
    VALUES,
)


@FUZZ
@given(body=json_bodies(OIP_BODIES), positional=st.booleans())
# found by this property: a datatype that is a list or an object (unhashable) was a TypeError, a 500
@example(body=b'{"inputs": [{"name": "x", "datatype": [], "shape": [1], "data": [1]}]}', positional=False)
@example(body=b'{"inputs": [{"name": "x", "datatype": {}, "shape": [1], "data": [1]}]}', positional=True)
def test_oip_json_tensors(body: bytes, positional: bool) -> None:
    oip_decode(body, {}, NAMES if positional else None)


def _element(datatype: str, value: Any) -> bytes:
    """One element in the binary layout of ``datatype``, or arbitrary bytes when the value does not fit."""
    formats = {"BOOL": "<?", "INT64": "<q", "INT32": "<i", "UINT8": "<B", "FP64": "<d", "FP32": "<f"}
    if datatype == "BYTES":
        text = str(value).encode("utf-8", "surrogatepass")
        return len(text).to_bytes(4, "little") + text
    try:
        return struct.pack(formats[datatype], value)
    except (struct.error, KeyError, TypeError, OverflowError):
        return b"\xff" * 3


@st.composite
def binary_requests(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    """A JSON header naming binary inputs, then their bytes: sizes, shapes and lengths right or wrong."""
    inputs: list[dict[str, Any]] = []
    tail = b""
    for _ in range(draw(st.integers(1, 3))):
        datatype = draw(st.sampled_from(["BOOL", "INT64", "INT32", "UINT8", "FP64", "FP32", "BYTES"]))
        rows = draw(st.integers(0, 3))
        values = draw(st.lists(st.one_of(SCALARS, st.floats()), min_size=rows, max_size=rows))
        raw = b"".join(_element(datatype, value) for value in values)
        raw = draw(st.one_of(st.just(raw), st.binary(max_size=24)))
        size = draw(st.one_of(st.just(len(raw)), st.integers(-1, 64), VALUES))
        name = draw(st.one_of(st.sampled_from(NAMES), COLUMN_NAMES))
        shape = draw(st.one_of(st.just([rows]), st.just([rows, 1]), SHAPES))
        inputs.append(
            {"name": name, "datatype": datatype, "shape": shape, "parameters": {"binary_data_size": size}}
        )
        tail += raw
    header = dump({"inputs": inputs})
    length = draw(
        st.one_of(st.just(str(len(header))), st.integers(-5, len(header) + 40).map(str), st.text(max_size=5))
    )
    return header + tail + draw(st.one_of(st.just(b""), st.binary(max_size=8))), {oip.HEADER_LENGTH: length}


@FUZZ
@given(request=binary_requests(), positional=st.booleans())
def test_oip_binary_tensors(request: tuple[bytes, dict[str, str]], positional: bool) -> None:
    body, headers = request
    oip_decode(body, headers, NAMES if positional else None)


# --- compressed bodies -----------------------------------------------------------------------------------

CODINGS = st.one_of(
    st.sampled_from(
        ["gzip", "x-gzip", "deflate", "identity", "GZIP", "gzip, identity", "gzip, gzip", "br", ""]
    ),
    st.text(max_size=12),
)


@st.composite
def compressed_bodies(draw: st.DrawFn) -> tuple[bytes, str, bytes | None]:
    """A body, its Content-Encoding, and what it inflates to (None when damaged or not compressed at all)."""
    payload = draw(st.one_of(st.binary(max_size=200), st.integers(0, 5000).map(lambda n: b"{" * n)))
    coding = draw(CODINGS)
    if coding.lower() in ("gzip", "x-gzip"):
        body, members = gzip.compress(payload), draw(st.integers(1, 2))
        body, payload = body * members, payload * members
    elif coding == "deflate":
        body = zlib.compress(payload)
    else:
        return draw(st.binary(max_size=200)), coding, None
    cut = draw(st.integers(0, len(body)))
    if cut < len(body):  # damaged: cut short, or a byte changed
        body = draw(st.sampled_from([body[:cut], body[:cut] + bytes([body[cut] ^ 0xFF]) + body[cut + 1 :]]))
        return body, coding, None
    return body, coding, payload


@FUZZ
@given(request=compressed_bodies(), limit=st.integers(0, 3000))
def test_compressed_bodies_are_inflated_or_refused(
    request: tuple[bytes, str, bytes | None], limit: int
) -> None:
    """Any Content-Encoding and any bytes: the inflated body (never past ``limit``), 413, 415 or 400."""
    body, coding, payload = request
    try:
        inflated = decompressed(body, coding, limit)
    except ShipyardError as error:
        assert 400 <= error.http_status < 500, f"{type(error).__name__} answers {error.http_status}: {error}"
        if payload is not None and len(payload) <= limit:
            raise AssertionError(
                f"a whole {coding} body of {len(payload)} bytes was refused: {error}"
            ) from None
        return
    except Exception as error:
        raise AssertionError(f"{type(error).__name__}: {error} on {coding!r} body {body[:200]!r}") from error
    assert len(inflated) <= max(limit, len(body)), "a body inflated past the limit"
    if payload is not None:
        assert inflated == payload


# --- the contract validator on its own -------------------------------------------------------------------

FRAME_COLUMNS = st.dictionaries(COLUMN_NAMES, st.lists(SCALARS, min_size=3, max_size=3), max_size=7)


@FUZZ
@given(columns=FRAME_COLUMNS, text_input=st.booleans(), as_text=st.booleans())
def test_contract_validator_on_any_table(
    columns: dict[str, list[Any]], text_input: bool, as_text: bool
) -> None:
    """The validator given any 3-row table (object columns mixing types, huge and non-finite numbers)."""
    if as_text:  # what a CSV body gives: every cell text
        columns = {
            name: [None if value is None else str(value) for value in values]
            for name, values in columns.items()
        }
    frame = pd.DataFrame(columns, index=pd.RangeIndex(3)) if columns else pd.DataFrame(index=pd.RangeIndex(3))
    for contract in POLICIES.values():
        validated(DecodedRequest(frame, text_input=text_input), contract)


#: Keys of Python mappings: text, or numbers whose text equals another key's ("1" and 1).
ANY_KEYS = st.one_of(COLUMN_NAMES, st.integers(0, 2), st.sampled_from([1.0, None]))


@FUZZ
@given(
    data=st.one_of(
        st.lists(st.dictionaries(ANY_KEYS, SCALARS, max_size=5), max_size=4),
        st.dictionaries(ANY_KEYS, st.one_of(st.lists(SCALARS, max_size=3), SCALARS), max_size=5),
        VALUES,
    )
)
def test_contract_validator_on_plain_python_input(data: Any) -> None:
    """``validate`` also takes records and column mappings (the Python API): any of them, or a refusal."""
    for mode in ("split", "reject"):
        try:
            CONTRACT.validate(data, mode=mode)
        except ShipyardError as error:
            assert 400 <= error.http_status < 500, f"validate raised {type(error).__name__}: {error}"


@FUZZ
@given(
    document=st.one_of(
        st.fixed_dictionaries(
            {
                "columns": st.lists(
                    st.dictionaries(
                        st.sampled_from(
                            [
                                "name",
                                "type",
                                "nullable",
                                "required",
                                "minimum",
                                "maximum",
                                "categories",
                                "closed",
                                "timezone",
                                "observed_min",
                                "observed_max",
                                "description",
                            ]
                        ),
                        VALUES,
                        max_size=6,
                    ),
                    max_size=3,
                )
            },
            optional={"extra_columns": VALUES, "version": VALUES},
        ),
        VALUES,
    )
)
def test_contract_documents_are_read_or_refused(document: Any) -> None:
    """A contract file a person edited (JSON or YAML): read, or refused with an InvalidInput."""
    text = dump(document).decode("utf-8", "surrogatepass")
    for read in (Contract.from_json, Contract.from_yaml):
        try:
            read(text)
        except ShipyardError as error:
            assert 400 <= error.http_status < 500, f"{read.__name__} raised {type(error).__name__}: {error}"
