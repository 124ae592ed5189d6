"""Protocol codecs: turn a request body into rows for the engine, and the engine's result into a response.

shipyard serves every model through one engine (validation, batching, logging live there once). Each wire
protocol — shipyard's own JSON (``native``), MLflow's scoring protocol (``mlflow``) and the Open Inference
Protocol of KServe v2 and Triton (``oip``) — is a codec around that engine: pure functions that decode bytes
into a ``DecodedRequest`` and encode a ``PredictionResult`` into an ``EncodedResponse``. Codecs import no HTTP
framework and do no I/O, so the server stays a thin adapter and every protocol is tested without a socket.

Every decoding problem raises ``InvalidInput`` (the server answers 400) or its subclass
``UnsupportedMediaType`` (415). Each codec also names its routes (the server builds its routing table from
them) and encodes a failure in its protocol's own shape: ``encode_failure(error, status, request_id)``,
given the status the error's class maps to (``shipyard.errors``). Every codec sets ``options["want_proba"]``
on the request it decodes: pass it to ``Engine.predict(want_proba=...)`` so probabilities are computed only
when the response carries them.

Before a codec decodes, ``decompressed`` undoes the request's Content-Encoding (gzip or deflate) for every
protocol alike, within the body limit. While it decodes, a ``ColumnRule`` (the model's feature names and the
contract's ``extra_columns`` policy) leaves out, or refuses, columns the model does not take before any
per-column work, so a request with 200,000 unknown columns costs what its known columns cost.

This module holds what the codecs share: the response triple, JSON parsing, content decoding, the column
rule, and building a DataFrame from JSON values so that the same values give the same dtypes whichever
protocol carried them.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
import orjson
import pandas as pd

from shipyard.contracts import Problem
from shipyard.errors import (
    ContractViolation,
    InvalidInput,
    PayloadTooLarge,
    UnsupportedMediaType,
    too_many_rows,
)

__all__ = [
    "CONTENT_ENCODINGS",
    "JSON_MEDIA_TYPE",
    "ColumnRule",
    "EncodedResponse",
    "UnsupportedMediaType",
    "common_length",
    "decompressed",
    "describe",
    "error_response",
    "frame_from_columns",
    "frame_from_records",
    "header",
    "json_response",
    "name_list",
    "parse_json",
    "quoted",
    "require_rows",
    "selected",
]

JSON_MEDIA_TYPE = "application/json"


class EncodedResponse(NamedTuple):
    """A response ready to send: status code, body bytes, and headers (``content-type`` among them)."""

    status: int
    body: bytes
    headers: dict[str, str]


def json_response(payload: Any, status: int = 200) -> EncodedResponse:
    """``payload`` as a JSON response; numpy arrays and scalars serialise natively, NaN becomes null."""
    body = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    return EncodedResponse(status, body, {"content-type": JSON_MEDIA_TYPE})


def error_response(message: str, status: int) -> EncodedResponse:
    """``{"error": message}`` with ``status``: the failure body of routes outside a prediction protocol."""
    return json_response({"error": message}, status=status)


def parse_json(body: bytes, what: str = "the body") -> Any:
    """Parse JSON bytes, or raise InvalidInput quoting the parser's first line (never the payload)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        first_line = str(error).splitlines()[0] if str(error) else "empty document"
        raise InvalidInput(f"{what} is not valid JSON: {first_line}") from None


#: Content-Encodings a request body may arrive in (RFC 9110), and the zlib window bits that read each.
_WINDOW_BITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
CONTENT_ENCODINGS = ("identity", *_WINDOW_BITS)


def decompressed(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """``body`` with its Content-Encoding undone, refusing (413) a result over ``limit`` bytes as soon as it
    passes it, so a small compressed body cannot unfold past the server's body limit (a "zip bomb").

    ``gzip`` (and ``x-gzip``), ``deflate`` and ``identity`` are read, also listed in order ("gzip, identity");
    any other coding is refused with 415, a damaged stream with 400.
    """
    if not content_encoding or not content_encoding.strip():
        return body
    codings = [coding.strip().lower() for coding in content_encoding.split(",")]
    codings = [coding for coding in codings if coding not in ("identity", "")]
    unknown = next((coding for coding in codings if coding not in _WINDOW_BITS), None)
    if unknown is not None:
        raise UnsupportedMediaType(
            f"Content-Encoding {unknown[:40]!r} is not supported; send the body compressed with gzip or "
            "deflate, or uncompressed"
        )
    for coding in reversed(codings):  # the last coding listed was applied last
        body = _inflated(body, coding, limit)
    return body


def _inflated(body: bytes, coding: str, limit: int) -> bytes:
    output = bytearray()
    remaining = body
    while True:  # a gzip body may hold several members, one after another
        inflater = zlib.decompressobj(_WINDOW_BITS[coding])
        try:
            while remaining and not inflater.eof:
                output += inflater.decompress(remaining, limit + 1 - len(output))
                if len(output) > limit:
                    raise PayloadTooLarge(
                        f"the body is over {limit:,} bytes once decompressed; this server accepts at most "
                        f"{limit:,}"
                    )
                remaining = inflater.unconsumed_tail
        except zlib.error as error:
            raise InvalidInput(
                f"the body is not valid {coding} data ({error}); send it as its Content-Encoding says"
            ) from None
        if not inflater.eof:
            raise InvalidInput(f"the {coding} body ends early; send the whole compressed stream")
        remaining = inflater.unused_data
        if not remaining or coding == "deflate":
            return bytes(output)


@dataclass(frozen=True)
class ColumnRule:
    """What a decoder builds: the model's ``features`` (when known) and what happens to any other column, the
    data contract's ``extra_columns`` policy — "drop" leaves it out, "reject" refuses the request (422, one
    ``unexpected_column`` problem per column, as the contract's validator would), "keep" keeps it (as does a
    rule without features) — and at most ``max_rows`` rows (the server's queue: a larger request could never
    be predicted). Applied before any per-column work.
    """

    features: Sequence[str] | None = None
    extra_columns: str = "keep"
    max_rows: int | None = None

    def check_rows(self, rows: int) -> None:
        """Refuse a request with no rows (400) or with more than ``max_rows`` (413), before building it."""
        require_rows(rows)
        if self.max_rows is not None and rows > self.max_rows:
            raise too_many_rows(rows, self.max_rows)

    def kept(self, names: Iterable[Any]) -> list[Any] | None:
        """The names among ``names`` to build, in their order; None when every column is built."""
        if self.features is None or self.extra_columns == "keep":
            return None
        known = set(self.features)
        extras = [name for name in names if name not in known]
        if not extras:
            return None
        if self.extra_columns == "reject":
            raise _unexpected_columns(extras)
        return [name for name in names if name in known]


def _unexpected_columns(extras: list[Any]) -> ContractViolation:
    problems = [Problem(-1, str(name), "unexpected_column", "") for name in extras[:50]]
    return ContractViolation(
        f"the input breaks the model's data contract: it has {len(extras):,} column"
        f"{'' if len(extras) == 1 else 's'} the model does not take ({name_list(extras, 5)}); "
        "send only the model's columns",
        problems,
    )


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Header ``name`` in any letter case: Starlette's headers ignore case, plain dicts do not."""
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return value


def describe(value: Any) -> str:
    """The JSON kind of ``value`` for an error message ("a list", "a string"), never the value itself."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def name_list(names: Iterable[Any], limit: int = 10, width: int = 60) -> str:
    """Names joined for a message, cut after ``limit`` names of ``width`` characters: a request never
    floods an error."""
    shown: list[str] = []
    total = 0
    for name in names:
        if total < limit:
            text = str(name)
            shown.append(text if len(text) <= width else text[: width - 1] + "…")
        total += 1
    text = ", ".join(shown)
    return f"{text}, … and {total - limit} more" if total > limit else text


def quoted(name: Any, width: int = 60) -> str:
    """A client-chosen name quoted for a message, cut to ``width`` characters."""
    text = str(name)
    return repr(text if len(text) <= width else text[: width - 1] + "…")


def require_rows(rows: int) -> None:
    """Refuse an empty batch: a request with no rows has nothing to predict and is almost always a bug."""
    if rows == 0:
        raise InvalidInput("the request has no rows; send at least one row to predict")


def selected(columns: Mapping[str, Any], rule: ColumnRule) -> Mapping[str, Any]:
    """``columns`` (values by column name) without the columns ``rule`` leaves out."""
    kept = rule.kept(columns)
    return columns if kept is None else {name: columns[name] for name in kept}


def common_length(columns: Mapping[str, Sized]) -> int:
    """The length shared by every column's values, or InvalidInput naming the columns and their lengths."""
    by_length: dict[int, list[str]] = {}
    for name, values in columns.items():
        by_length.setdefault(len(values), []).append(name)
    if len(by_length) > 1:
        groups = sorted(by_length.items(), key=lambda item: -len(item[1]))
        described = "; ".join(
            f"{name_list(names, 5)} {'has' if len(names) == 1 else 'have'} {length}"
            for length, names in groups[:5]
        )
        raise InvalidInput(
            f"the columns have different lengths ({described}); every column needs one value per row"
        )
    return next(iter(by_length), 0)


_SCALARS = (str, int, float, bool, type(None))


def _check_cells(column: str, values: Sequence[Any] | np.ndarray) -> None:
    """Cells must be JSON scalars; a nested list or object in a cell is a malformed table, not a value."""
    for row, value in enumerate(values):
        if not isinstance(value, _SCALARS):
            raise InvalidInput(
                f"row {row}, column {quoted(column)} holds {describe(value)}; "
                "each value must be a number, a string, a boolean or null"
            )


def frame_from_columns(
    columns: Mapping[str, Sequence[Any] | np.ndarray], rows: int, *, check_cells: bool = True
) -> pd.DataFrame:
    """Build the request frame from per-column value lists, all ``rows`` long.

    Every codec ends here, so a value has the same dtype whichever protocol carried it: pandas infers each
    column from its Python values (integers → int64, with nulls → float64, text → str, …) and the contract
    then coerces. ``check_cells`` refuses nested lists and objects inside cells.
    """
    if not columns:
        return pd.DataFrame(index=pd.RangeIndex(rows))
    if rows and all(_all_floats(values) for values in columns.values()):
        # What pandas infers for Python floats (float64), built as one block: a fifth of the cost for a row.
        matrix = np.array(list(columns.values()), dtype=np.float64).T
        return pd.DataFrame(matrix, columns=_column_index(tuple(columns)), index=pd.RangeIndex(rows))
    if check_cells:
        for name, values in columns.items():
            _check_cells(name, values)
    return pd.DataFrame(dict(columns), index=pd.RangeIndex(rows))


@lru_cache(maxsize=256)
def _column_index(names: tuple[str, ...]) -> pd.Index:
    """Column labels, built once per set of names: making a text Index costs more than a row's values."""
    return pd.Index(names)


def _all_floats(values: Sequence[Any] | np.ndarray) -> bool:
    return isinstance(values, list) and all(type(value) is float for value in values)


#: The rule of a decoder that knows nothing of the model: every column is built.
EVERY_COLUMN = ColumnRule()


def frame_from_records(
    records: Sequence[Any], what: str = "record", rule: ColumnRule = EVERY_COLUMN
) -> pd.DataFrame:
    """Build the request frame from JSON objects, one per row; a key missing from a row becomes null.

    Columns keep the order in which they first appear; ``rule`` leaves out (or refuses) columns the model
    does not take. Anything but an object in the list is refused with its position, so a client sees which
    row it got wrong.
    """
    rule.check_rows(len(records))
    for row, record in enumerate(records):
        if not isinstance(record, dict):
            raise InvalidInput(
                f"{what} {row} is {describe(record)}; "
                f"each {what} must be an object mapping column names to values"
            )
    if rule.features is not None:
        every = dict.fromkeys(name for record in records for name in record)
        kept = rule.kept(every)
        if kept is not None:
            named = {name: [record.get(name) for record in records] for name in kept}
            return frame_from_columns(named, len(records))
    columns: dict[str, list[Any]] = {}
    for row, record in enumerate(records):
        for name in record:
            if name not in columns:
                columns[name] = [None] * row  # a column first seen late is missing from the earlier rows
        for name, values in columns.items():
            values.append(record.get(name))
    return frame_from_columns(columns, len(records))
