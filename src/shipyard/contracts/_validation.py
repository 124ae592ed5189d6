"""The one validator: check rows against a contract, split them into valid and rejected, and explain why.

Training, batch scoring and the HTTP server all call this, so a row is judged the same way everywhere.
It works column by column: each column's checks yield boolean masks over the rows, problems are read off
those masks with ``np.flatnonzero``, and only the problems actually listed are turned into text. No row is
visited in Python, which keeps a million-row batch well under a second or two, and a garbage payload
cannot make the error message (or the work behind it) grow with its size.

The server validates every request, most of them one clean row, so the clean path avoids building pandas
objects it does not need: a frame whose columns share one numpy dtype is read with a single
``to_numpy()`` instead of a Series per column, valid rows that needed no coercion are a copy of the input
rather than a frame rebuilt column by column, and the empty problems table comes from a cached template.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.contracts._checks import (
    PROBLEM_CODES,
    ColumnCheck,
    cells_as_text,
    check_column,
    check_float_columns,
    empty_values,
)
from shipyard.contracts._columns import ColumnContract, ExtraColumns
from shipyard.contracts._inputs import as_frame
from shipyard.errors import ContractViolation, InvalidInput

#: Column name of the per-row reasons in ``ValidationResult.rejected``.
PROBLEMS_COLUMN = "_problems"
#: ``row`` of a problem that concerns a whole column (a missing or unexpected column), not one row.
WHOLE_COLUMN = -1
_VALUE_LIMIT = 80
_COLUMN_LEVEL = frozenset({"missing_column", "unexpected_column"})
_WITHOUT_VALUE = frozenset({"null", "missing_column", "unexpected_column"})
_CODE_INDEX = {code: index for index, code in enumerate(PROBLEM_CODES)}
_TEXT = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' default "str" dtype
_NO_REASONS = pd.array(pa.array([], type=pa.large_string()), dtype=_TEXT)
# pandas 3 always copies on write, so a shallow copy of the input is as independent of it as a new frame
# (and costs nothing, where a deep copy would copy and then consolidate); earlier pandas shares the arrays.
_SHALLOW_COPY_IS_INDEPENDENT = int(pd.__version__.split(".")[0]) >= 3


class ContractColumns(Protocol):
    """What the validator reads from a ``Contract``: named here so that the class, which calls the
    validator, is not imported back by it."""

    @property
    def columns(self) -> tuple[ColumnContract, ...]: ...

    @property
    def extra_columns(self) -> ExtraColumns: ...

    @property
    def names(self) -> list[str]: ...


@dataclass(frozen=True)
class Problem:
    """One broken rule: which row (-1 for the whole column), which column, which code, the offending value."""

    row: int
    column: str
    problem: str
    value: str

    def __str__(self) -> str:
        where = f"row {self.row}, {self.column!r}" if self.row != WHOLE_COLUMN else f"column {self.column!r}"
        shown = f" ({self.value!r})" if self.problem not in _WITHOUT_VALUE else ""
        return f"{where}: {self.problem}{shown}"


@dataclass(frozen=True, eq=False)  # DataFrames have no single truth value, so results compare by identity
class ValidationResult:
    """Rows checked against a contract.

    ``valid`` holds the rows that passed, coerced to the contract's types, contract columns in contract order
    (then extra columns, under ``extra_columns="keep"``), with the input's index. ``rejected`` holds the
    failing rows exactly as given plus a ``_problems`` column of "; "-joined reasons. ``problems`` has one
    row per problem (``row``, ``column``, ``problem``, ``value``), ordered by row; ``row`` is the 0-based
    position in the input, or -1 for a problem of a whole column (a required column missing, an unexpected
    one), which rejects every row but is listed once. ``value`` is the offending value as text, cut to 80
    characters. ``problem_count`` counts every problem found, even those ``max_problems`` left unlisted.

    For input that meets the contract, the (empty) ``rejected`` and ``problems`` frames are built on first
    use: a server checking one row at a time never reads them, and building them is a third of the check.
    """

    valid: pd.DataFrame
    _rejected: pd.DataFrame | Callable[[], pd.DataFrame] = field(repr=False)
    _problems: pd.DataFrame | Callable[[], pd.DataFrame] = field(repr=False)
    rows: int
    problem_count: int

    @property
    def rejected(self) -> pd.DataFrame:
        return self._built("_rejected")

    @property
    def problems(self) -> pd.DataFrame:
        return self._built("_problems")

    def _built(self, name: str) -> pd.DataFrame:
        value = getattr(self, name)
        if callable(value):
            value = value()
            object.__setattr__(self, name, value)
        return value

    @property
    def ok(self) -> bool:
        """True when every row meets the contract."""
        return self.problem_count == 0

    def problem_list(self, limit: int | None = None) -> list[Problem]:
        """The first ``limit`` problems (all when None) as ``Problem`` objects."""
        head = self.problems if limit is None else self.problems.head(limit)
        return [
            Problem(int(row), str(column), str(code), str(value))
            for row, column, code, value in zip(
                head["row"].tolist(),
                head["column"].tolist(),
                head["problem"].tolist(),
                head["value"].tolist(),
                strict=True,
            )
        ]

    def summary(self, limit: int = 5) -> str:
        """One line for people: how many rows fail, the first ``limit`` problems, how many more there are."""
        if self.ok:
            return f"all {self.rows} rows meet the contract"
        shown = self.problem_list(limit)
        more = self.problem_count - len(shown)
        text = f"{len(self.rejected)} of {self.rows} rows break the contract: " + "; ".join(map(str, shown))
        return text + (f"; and {more} more" if more else "")


def validate(
    contract: ContractColumns,
    data: object,
    *,
    mode: Literal["reject", "split"] = "reject",
    text_input: bool = False,
    max_problems: int | None = None,
) -> ValidationResult:
    """Check ``data`` against ``contract``; see ``Contract.validate``."""
    if mode not in ("reject", "split"):
        raise InvalidInput(f"mode must be 'reject' or 'split', got {mode!r}")
    if max_problems is not None and (
        isinstance(max_problems, bool) or not isinstance(max_problems, int) or max_problems < 0
    ):
        raise InvalidInput(f"max_problems must be a whole number >= 0 or None, got {max_problems!r}")
    if isinstance(data, list) and not data:  # no records: nothing to check, whatever the columns
        frame = pd.DataFrame({name: pd.Series([], dtype=object) for name in contract.names})
    else:
        frame = as_frame(data)
    size = len(frame)
    names = contract.names
    known = set(names)
    given = frame.columns.tolist()
    extras = [name for name in given if name not in known]

    checks = _check_columns(contract, frame, given, text_input)
    whole_columns = [
        (spec.name, "missing_column")
        for spec in contract.columns
        if spec.required and spec.name not in checks
    ]
    if contract.extra_columns == "reject":
        whole_columns += [(str(name), "unexpected_column") for name in extras]

    bad = np.zeros(size, dtype=bool)
    keys = []
    for position, name in enumerate(names):
        check = checks.get(name)
        for code, mask in check.problems.items() if check is not None else ():
            bad |= mask
            keys.append(_RowProblems.key(np.flatnonzero(mask), position, code, len(names)))
    if not keys and not whole_columns:  # every row meets the contract
        valid = _valid(contract, frame, checks, extras, ~bad, same_columns=given == names)
        no_problems = partial(_no_problems_copy, tuple(names))
        return ValidationResult(valid, partial(_no_rows, frame), no_problems, size, 0)
    if whole_columns:
        bad[:] = True
    row_problems = _RowProblems.collect(keys, len(names))
    problem_count = len(whole_columns) + len(row_problems.rows)
    listed = problem_count if max_problems is None else min(problem_count, max_problems)
    row_problems = row_problems.head(max(0, listed - len(whole_columns)))
    whole_columns = whole_columns[:listed]

    text = _ProblemText.build(frame, names, whole_columns, row_problems)
    rejected = _rejected(frame, bad, text)
    valid = _valid(contract, frame, checks, extras, ~bad)
    result = ValidationResult(valid, rejected, text.table(), size, problem_count)
    if mode == "reject" and problem_count:
        raise ContractViolation(result.summary(), result=result)
    return result


def _check_columns(
    contract: ContractColumns, frame: pd.DataFrame, given: list[Any], text_input: bool
) -> dict[str, ColumnCheck]:
    """Each contract column the input has, checked, in contract order.

    A frame whose columns all share one numpy number or boolean dtype is read with one ``to_numpy()`` (no
    copy when pandas holds it in one block) instead of a Series per column, which is most of the cost of
    checking one row; float columns of a float64 frame are then screened all at once.
    """
    present = set(given)
    specs = [spec for spec in contract.columns if spec.name in present]
    matrix = _numbers(frame)
    if matrix is None:
        return {spec.name: check_column(spec, frame[spec.name], text_input=text_input) for spec in specs}
    position = {name: index for index, name in enumerate(given)}
    checks: dict[str, ColumnCheck] = {}
    floats = [spec for spec in specs if spec.type == "float"] if matrix.dtype == np.float64 else []
    if floats:
        columns = [position[spec.name] for spec in floats]
        block = matrix if columns == list(range(matrix.shape[1])) else matrix[:, columns]
        checked = check_float_columns(floats, block, text_input=text_input)
        checks.update(zip((spec.name for spec in floats), checked, strict=True))
    for spec in specs:
        if spec.name not in checks:
            checks[spec.name] = check_column(spec, matrix[:, position[spec.name]], text_input=text_input)
    return {spec.name: checks[spec.name] for spec in specs}


def _numbers(frame: pd.DataFrame) -> np.ndarray | None:
    """The frame as one 2-D array when all its columns share a numpy number or boolean dtype, else None."""
    dtypes = frame.dtypes.tolist()
    if not dtypes or not isinstance(dtypes[0], np.dtype) or dtypes[0].kind not in "biuf":
        return None
    if any(dtype != dtypes[0] for dtype in dtypes):
        return None
    return frame.to_numpy()


@dataclass(frozen=True)
class _RowProblems:
    """Row-level problems as parallel arrays, ordered by row and then by the contract's column order.

    Each problem is packed into one int64 (row, column position, code), so ordering them is a single sort.
    """

    rows: np.ndarray
    columns: np.ndarray
    codes: np.ndarray

    @staticmethod
    def key(rows: np.ndarray, position: int, code: str, width: int) -> np.ndarray:
        return (rows * width + position) * len(PROBLEM_CODES) + _CODE_INDEX[code]

    @classmethod
    def collect(cls, keys: list[np.ndarray], width: int) -> _RowProblems:
        packed = np.sort(np.concatenate(keys)) if keys else np.zeros(0, dtype=np.int64)
        cell, codes = np.divmod(packed, len(PROBLEM_CODES))
        rows, columns = np.divmod(cell, max(width, 1))
        return cls(rows, columns, codes)

    def head(self, count: int) -> _RowProblems:
        return _RowProblems(self.rows[:count], self.columns[:count], self.codes[:count])


def _large(text: str) -> pa.Scalar:
    return pa.scalar(text, type=pa.large_string())


def _shown_values(column: pd.Series, rows: np.ndarray) -> pa.Array:
    """The cells at ``rows`` as text of at most 80 characters: enough to recognise, never a whole payload."""
    taken = column.iloc[rows]
    dtype = taken.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
        text = pc.cast(pa.array(taken.to_numpy()), pa.large_string())
    elif isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        text = pc.cast(pa.array(taken.array), pa.large_string()).fill_null("nan")
    else:
        text = pa.array(cells_as_text(taken.to_numpy(dtype=object)), type=pa.large_string())
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    long = pc.greater(pc.utf8_length(text), _VALUE_LIMIT)
    if pc.any(long).as_py():
        cut = pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(text, 0, _VALUE_LIMIT - 1), _large("…"), _large("")
        )
        text = pc.if_else(long, cut, text)
    return text


@dataclass(frozen=True)
class _ProblemText:
    """The listed problems, with their values and reasons as Arrow text (built column-wise, never per row)."""

    rows: np.ndarray
    column_codes: np.ndarray
    column_names: list[str]
    problem_codes: np.ndarray
    values: pa.Array
    reasons: pa.Array
    whole_columns: int

    @classmethod
    def build(
        cls, frame: pd.DataFrame, names: list[str], whole_columns: list[tuple[str, str]], found: _RowProblems
    ) -> _ProblemText:
        # Two input columns can share a name as text (1 and "1"): each name is one category
        column_names = list(dict.fromkeys([*names, *(name for name, _ in whole_columns)]))
        position = {name: index for index, name in enumerate(column_names)}
        pieces, positions = [], []
        for column in np.unique(found.columns).tolist():  # one piece of value text per column, in row order
            at = np.flatnonzero(found.columns == column)
            pieces.append(_shown_values(frame[names[column]], found.rows[at]))
            positions.append(at)
        row_values = pa.array([], type=pa.large_string())
        if pieces:
            row_values = pa.concat_arrays(pieces).take(np.argsort(np.concatenate(positions)))
        value_text = pa.concat_arrays(
            [pa.array([""] * len(whole_columns), type=pa.large_string()), row_values]
        )
        column_codes = np.concatenate([[position[name] for name, _ in whole_columns], found.columns]).astype(
            np.int64
        )
        problem_codes = np.concatenate(
            [[_CODE_INDEX[code] for _, code in whole_columns], found.codes]
        ).astype(np.int64)
        rows = np.concatenate([np.full(len(whole_columns), WHOLE_COLUMN, dtype=np.int64), found.rows])
        # A reason is "'column': code" plus " ('value')" for codes that have one; the prefixes are few.
        prefixes = pa.array(
            [f"'{name}': {code}" for name in column_names for code in PROBLEM_CODES], type=pa.large_string()
        ).take(column_codes * len(PROBLEM_CODES) + problem_codes)
        has_value = np.asarray([code not in _WITHOUT_VALUE for code in PROBLEM_CODES])[problem_codes]
        reasons = pc.if_else(
            has_value,
            pc.binary_join_element_wise(prefixes, _large(" ('"), value_text, _large("')"), _large("")),
            prefixes,
        )
        return cls(rows, column_codes, column_names, problem_codes, value_text, reasons, len(whole_columns))

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "row": self.rows,
                "column": pd.Categorical.from_codes(self.column_codes, categories=self.column_names),
                "problem": pd.Categorical.from_codes(self.problem_codes, categories=list(PROBLEM_CODES)),
                "value": pd.Series(self.values, dtype=_TEXT),
            }
        )


@lru_cache(maxsize=256)
def _no_problems(names: tuple[str, ...]) -> pd.DataFrame:
    """The problems table of a clean input, built once per contract's column names (callers copy it)."""
    found = _RowProblems.collect([], len(names))
    return _ProblemText.build(pd.DataFrame(), list(names), [], found).table()


def _no_problems_copy(names: tuple[str, ...]) -> pd.DataFrame:
    return _no_problems(names).copy()


def _no_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rejected rows of a clean input: none, with the input's columns and an empty ``_problems``."""
    index = frame.index
    if type(index) is pd.RangeIndex and index.start == 0 and index.step == 1:
        # Taking no rows leaves RangeIndex(0, 0, 1) and slicing RangeIndex(start, start, step): the same
        # frame for an index counting from 0 by 1, as a request's rows do, and the slice is far cheaper.
        return _with_reasons(frame.iloc[:0], _NO_REASONS.copy())
    return _with_reasons(frame.iloc[np.zeros(0, dtype=np.intp)], _NO_REASONS.copy())


def _with_reasons(rows: pd.DataFrame, reasons: Any) -> pd.DataFrame:
    """``rows`` (taken from the input) with their reasons (pandas text) as a last ``_problems`` column."""
    rows = rows.copy()
    if PROBLEMS_COLUMN in rows.columns:  # an input column of that name is overwritten in place
        rows[PROBLEMS_COLUMN] = reasons
    else:  # insert, not setitem: same column, without setitem's alignment work
        rows.insert(rows.shape[1], PROBLEMS_COLUMN, reasons)
    return rows


def _rejected(frame: pd.DataFrame, bad: np.ndarray, text: _ProblemText) -> pd.DataFrame:
    """The failing rows as given, plus each row's reasons joined with "; " (whole-column reasons first)."""
    bad_rows = np.flatnonzero(bad)
    column_level = "; ".join(text.reasons[: text.whole_columns].to_pylist())
    rows = text.rows[text.whole_columns :]
    if len(rows):
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        offsets = pa.array(np.r_[starts, len(rows)], type=pa.int32())
        joined = pc.binary_join(
            pa.ListArray.from_arrays(offsets, text.reasons[text.whole_columns :]), _large("; ")
        )
        if column_level:
            joined = pc.binary_join_element_wise(_large(column_level), joined, _large("; "))
    else:
        starts, joined = np.zeros(0, dtype=np.int64), pa.array([], type=pa.large_string())
    if len(starts) < len(bad_rows):  # some rows have no listed problem of their own
        fallback = column_level or "problems not listed (max_problems reached)"
        pick = np.full(len(bad_rows), len(joined))
        pick[np.searchsorted(bad_rows, rows[starts])] = np.arange(len(joined))
        joined = pa.concat_arrays([joined, pa.array([fallback], type=pa.large_string())]).take(pick)
    return _with_reasons(frame.iloc[bad_rows], pd.array(joined, dtype=_TEXT))


def _valid(
    contract: ContractColumns,
    frame: pd.DataFrame,
    checks: dict[str, ColumnCheck],
    extras: list[Any],
    good: np.ndarray,
    *,
    same_columns: bool = False,
) -> pd.DataFrame:
    """The rows in ``good``, coerced, contract columns in contract order (then kept extras).

    ``same_columns`` says the input's columns are exactly the contract's, in its order; when every row is
    good and no column needed a coercion either, a copy of the input is that frame already.
    """
    everything = bool(good.all())
    if everything and same_columns and _SHALLOW_COPY_IS_INDEPENDENT and _unchanged(frame, checks):
        return frame.copy(deep=False)
    count = int(good.sum())
    columns: dict[Any, Any] = {}
    for spec in contract.columns:
        check = checks.get(spec.name)
        if check is None:
            columns[spec.name] = empty_values(spec, count)
        else:
            columns[spec.name] = check.values if everything else check.values[good]
    if contract.extra_columns == "keep":
        for name in extras:
            values = frame[name].array
            columns[name] = values if everything else values[good]
    index = frame.index if everything else frame.index[good]
    return pd.DataFrame(columns, index=index)


def _unchanged(frame: pd.DataFrame, checks: dict[str, ColumnCheck]) -> bool:
    """Whether a copy of ``frame`` equals, in every value, dtype and label, the frame ``_valid`` would build.

    True when no column was coerced and the column labels are of the kind a new frame gives them (a rebuilt
    frame also has no ``attrs`` and default flags, so an input with either is rebuilt).
    """
    labels = _labels(tuple(checks))
    return (
        all(check.as_given for check in checks.values())
        and type(frame.columns) is type(labels)
        and frame.columns.dtype == labels.dtype
        and frame.columns.name is None
        and not frame.attrs
        and frame.flags.allows_duplicate_labels
    )


@lru_cache(maxsize=256)
def _labels(names: tuple[str, ...]) -> pd.Index:
    """The column labels ``pd.DataFrame`` gives a frame built from a dict keyed by ``names``."""
    return pd.Index(list(names))
