"""The one validator: check rows against a contract, split them into valid and rejected, and explain why.

Training, batch scoring and the HTTP server all call this, so a row is judged the same way everywhere.
It works column by column: each column's checks yield boolean masks over the rows, problems are read off
those masks with ``np.flatnonzero``, and only the problems actually listed are turned into text. No row is
visited in Python, which keeps a million-row batch well under a second or two, and a garbage payload
cannot make the error message (or the work behind it) grow with its size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.contracts._checks import PROBLEM_CODES, ColumnCheck, cells_as_text, check_column, empty_values
from shipyard.contracts._inputs import as_frame
from shipyard.errors import InvalidInput

if TYPE_CHECKING:
    from shipyard.contracts._contract import Contract

#: Column name of the per-row reasons in ``ValidationResult.rejected``.
PROBLEMS_COLUMN = "_problems"
#: ``row`` of a problem that concerns a whole column (a missing or unexpected column), not one row.
WHOLE_COLUMN = -1
_VALUE_LIMIT = 80
_COLUMN_LEVEL = frozenset({"missing_column", "unexpected_column"})
_WITHOUT_VALUE = frozenset({"null", "missing_column", "unexpected_column"})
_CODE_INDEX = {code: index for index, code in enumerate(PROBLEM_CODES)}
_TEXT = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' default "str" dtype


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
    """

    valid: pd.DataFrame
    rejected: pd.DataFrame
    problems: pd.DataFrame
    rows: int
    problem_count: int

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


class ContractViolation(InvalidInput):
    """Input rows broke the data contract (raised by ``validate`` in mode "reject").

    The message is the result's summary; ``result`` holds the full ValidationResult and ``problems`` its
    table of problems, for callers that report them in detail.
    """

    def __init__(self, result: ValidationResult) -> None:
        super().__init__(result.summary())
        self.result = result
        self.problems = result.problems

    def __reduce__(self) -> tuple[type[ContractViolation], tuple[ValidationResult]]:
        # Rebuilt from the result, so the error survives pickling (e.g. from a batch worker process).
        return (type(self), (self.result,))


def validate(
    contract: Contract,
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
    extras = [name for name in frame.columns if name not in known]

    whole_columns: list[tuple[str, str]] = []
    checks: dict[str, ColumnCheck] = {}
    for spec in contract.columns:
        if spec.name in frame.columns:
            checks[spec.name] = check_column(spec, frame[spec.name], text_input=text_input)
        elif spec.required:
            whole_columns.append((spec.name, "missing_column"))
    if contract.extra_columns == "reject":
        whole_columns += [(str(name), "unexpected_column") for name in extras]

    bad = np.zeros(size, dtype=bool)
    keys = []
    for position, name in enumerate(names):
        check = checks.get(name)
        for code, mask in check.problems.items() if check is not None else ():
            bad |= mask
            keys.append(_RowProblems.key(np.flatnonzero(mask), position, code, len(names)))
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
        raise ContractViolation(result)
    return result


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
        column_names = names + [name for name, _ in whole_columns if name not in names]
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
    rejected = frame.iloc[bad_rows].copy()
    rejected[PROBLEMS_COLUMN] = pd.Series(joined, index=rejected.index, dtype=_TEXT)
    return rejected


def _valid(
    contract: Contract,
    frame: pd.DataFrame,
    checks: dict[str, ColumnCheck],
    extras: list[Any],
    good: np.ndarray,
) -> pd.DataFrame:
    everything = bool(good.all())
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
