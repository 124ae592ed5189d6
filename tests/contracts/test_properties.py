"""Properties of the validator over random frames: a contract accepts the data it was inferred from (even
tightened to exactly what was observed), survives serialisation, and valid+rejected partition the input.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from shipyard.contracts import ColumnContract, Contract

ROWS = st.integers(min_value=1, max_value=25)
ZONES = st.sampled_from([None, "UTC", "Europe/Paris", "America/New_York"])


def _with_nulls(values: list[Any], nulls: list[bool]) -> list[Any]:
    """Nulls where asked, but never in every row (an all-null column has no type to infer)."""
    return [
        None if null and index else value
        for index, (value, null) in enumerate(zip(values, nulls, strict=True))
    ]


@st.composite
def columns(draw: st.DrawFn, size: int) -> pd.Series:
    kind = draw(
        st.sampled_from(["int", "float", "bool", "text", "few_text", "datetime", "categorical", "numbers"])
    )
    nulls = (
        draw(st.lists(st.booleans(), min_size=size, max_size=size)) if draw(st.booleans()) else [False] * size
    )

    def values(strategy: st.SearchStrategy[Any]) -> list[Any]:
        return _with_nulls(draw(st.lists(strategy, min_size=size, max_size=size)), nulls)

    if kind == "int":
        return pd.Series(values(st.integers(-(2**63), 2**63 - 1)), dtype="Int64")
    if kind == "float":
        return pd.Series(values(st.floats(allow_nan=False, allow_infinity=False)), dtype="float64")
    if kind == "bool":
        return pd.Series(values(st.booleans()), dtype="boolean" if any(nulls[1:]) else "bool")
    if kind == "text":
        return pd.Series(values(st.text(max_size=6)), dtype=draw(st.sampled_from(["str", "object"])))
    if kind == "few_text":
        return pd.Series(values(st.sampled_from(["red", "green", "blue", " ", ""])), dtype="str")
    if kind == "categorical":
        return pd.Series(pd.Categorical(values(st.sampled_from(["s", "m", "l"]))))
    if kind == "numbers":
        return pd.Series(values(st.one_of(st.integers(-5, 5), st.sampled_from([0.5, 2.25]))), dtype=object)
    zone = draw(ZONES)
    instants = st.datetimes(
        min_value=pd.Timestamp("1970-01-01").to_pydatetime(),
        max_value=pd.Timestamp("2200-01-01").to_pydatetime(),
    )
    stamps = pd.to_datetime(pd.Series(values(instants), dtype=object))
    return stamps if zone is None else stamps.dt.tz_localize("UTC").dt.tz_convert(zone)


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    size = draw(ROWS)
    width = draw(st.integers(min_value=1, max_value=5))
    frame = pd.DataFrame({f"c{i}": draw(columns(size)) for i in range(width)})
    frame.index = pd.Index(draw(st.permutations(range(100, 100 + size))))
    return frame


def tightened(contract: Contract) -> Contract:
    """The contract with bounds set to the observed range and every category list closed."""
    columns = []
    for column in contract.columns:
        changes: dict[str, Any] = {}
        if column.type in ("integer", "float", "datetime"):
            changes.update(minimum=column.observed_min, maximum=column.observed_max)
        if column.categories is not None:
            changes["closed"] = True
        columns.append(dataclasses.replace(column, **changes))
    return Contract(tuple(columns))


@settings(max_examples=150, deadline=None)
@given(frames())
def test_a_contract_accepts_the_data_it_was_inferred_from(frame: pd.DataFrame) -> None:
    contract = Contract.infer(frame, max_categories=4)
    for candidate in (contract, tightened(contract)):
        result = candidate.validate(frame, mode="split")
        assert result.ok, result.summary()
        assert len(result.valid) == len(frame) and list(result.valid.index) == list(frame.index)
    for name in frame.columns:
        if contract.column(name).type in ("float", "integer"):
            given_values = frame[name].astype("float64").to_numpy()
            assert np.array_equal(
                result.valid[name].astype("float64").to_numpy(), given_values, equal_nan=True
            )


@settings(max_examples=100, deadline=None)
@given(frames())
def test_inferred_contracts_survive_yaml_and_json(frame: pd.DataFrame) -> None:
    contract = Contract.infer(frame, max_categories=4)
    assert Contract.from_yaml(contract.to_yaml()) == contract
    assert Contract.from_json(contract.to_json()) == contract


@settings(max_examples=150, deadline=None)
@given(frames(), frames(), st.booleans())
def test_valid_and_rejected_partition_the_input(
    training: pd.DataFrame, incoming: pd.DataFrame, text: bool
) -> None:
    contract = tightened(Contract.infer(training, max_categories=4))
    incoming = incoming.set_axis(
        list(training.columns[: incoming.shape[1]])
        + [f"extra{i}" for i in range(incoming.shape[1] - min(incoming.shape[1], training.shape[1]))],
        axis=1,
    )
    result = contract.validate(incoming, mode="split", text_input=text)
    assert result.rows == len(incoming) == len(result.valid) + len(result.rejected)
    assert sorted(result.valid.index.tolist() + result.rejected.index.tolist()) == sorted(
        incoming.index.tolist()
    )
    assert result.ok == result.rejected.empty == result.problems.empty
    assert result.rejected["_problems"].str.len().min() > 0 if len(result.rejected) else True
    problem_rows = set(result.problems["row"].tolist()) - {-1}
    assert {incoming.index[row] for row in problem_rows} <= set(result.rejected.index)
    assert list(result.valid.columns) == contract.names


NUMERIC_DTYPES = st.sampled_from(["float64", "float32", "int64", "uint8", "bool"])


@st.composite
def numeric_frames(draw: st.DrawFn) -> pd.DataFrame:
    """Frames whose columns all share one numpy dtype (floats with NaN and ±inf), as a JSON request of
    numbers decodes to; the validator reads such a frame as one array."""
    dtype = np.dtype(draw(NUMERIC_DTYPES))
    shape = (draw(ROWS), draw(st.integers(min_value=1, max_value=6)))
    if dtype.kind == "f":
        cells = st.floats(width=dtype.itemsize * 8, min_value=-50, max_value=50) | st.sampled_from(
            [np.nan, np.inf, -np.inf]
        )
    elif dtype.kind == "b":
        cells = st.booleans()
    else:
        cells = st.integers(min_value=0, max_value=60)
    values = draw(st.lists(cells, min_size=shape[0] * shape[1], max_size=shape[0] * shape[1]))
    table = np.array(values, dtype=dtype).reshape(shape)
    return pd.DataFrame(table, columns=[f"c{i}" for i in range(shape[1])])


@st.composite
def numeric_contracts(draw: st.DrawFn, names: list[str]) -> Contract:
    columns = []
    for name in draw(st.permutations(names)):
        kind = draw(st.sampled_from(["float", "float", "integer", "boolean", "category"]))
        changes: dict[str, Any] = {}
        if kind in ("float", "integer") and draw(st.booleans()):
            changes.update(minimum=draw(st.integers(-20, 10)), maximum=draw(st.integers(10, 40)))
        if kind == "integer" and draw(st.booleans()):
            changes.update(categories=(0, 1, 2, 3), closed=True)
        columns.append(ColumnContract(name, kind, nullable=draw(st.booleans()), **changes))  # type: ignore[arg-type]
    return Contract(tuple(columns))


@settings(max_examples=300, deadline=None)
@given(st.data(), st.booleans())
def test_a_numeric_frame_is_judged_the_same_read_as_one_array_or_column_by_column(
    data: st.DataObject, text: bool
) -> None:
    frame = data.draw(numeric_frames())
    contract = data.draw(numeric_contracts(list(frame.columns)))
    whole = contract.validate(frame, mode="split", text_input=text)
    # A text column the contract drops makes the frame mixed, so each column is read as a Series.
    by_column = contract.validate(frame.assign(note="x"), mode="split", text_input=text)
    pd.testing.assert_frame_equal(whole.valid, by_column.valid, check_exact=True)
    pd.testing.assert_frame_equal(whole.rejected, by_column.rejected.drop(columns="note"), check_exact=True)
    pd.testing.assert_frame_equal(whole.problems, by_column.problems, check_exact=True)
    assert (whole.rows, whole.problem_count) == (by_column.rows, by_column.problem_count)
