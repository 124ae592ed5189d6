"""Contract.validate: every problem code, safe coercions only, split/reject modes, and short messages."""

from __future__ import annotations

import pickle
from dataclasses import replace as dataclass_replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from shipyard.contracts import PROBLEM_CODES, ColumnContract, Contract, ContractViolation, Problem
from shipyard.errors import InvalidInput


def contract_of(*columns: ColumnContract, extra_columns: str = "drop") -> Contract:
    return Contract(columns, extra_columns=extra_columns)  # type: ignore[arg-type]


def found(result_or_error: object) -> list[tuple[int, str, str]]:
    result = getattr(result_or_error, "result", None) or result_or_error  # a violation holds its result
    problems = result.problems
    return [(int(r), c, p) for r, c, p in problems[["row", "column", "problem"]].itertuples(index=False)]


def split(contract: Contract, data: object, **options: object) -> object:
    return contract.validate(data, mode="split", **options)  # type: ignore[arg-type]


AGE = ColumnContract("age", "integer", nullable=False, minimum=0, maximum=120)
SCORE = ColumnContract("score", "float", nullable=True)
PLAN = ColumnContract("plan", "category", nullable=False, categories=("basic", "pro"), closed=True)


# --- each problem code ---------------------------------------------------------------------------------


def test_every_row_level_problem_code_is_reported_with_its_row_and_column() -> None:
    contract = contract_of(AGE, ColumnContract("ratio", "float", nullable=False), PLAN)
    frame = pd.DataFrame(
        {
            "age": pd.Series([30, None, 150, -1, 40, 41], dtype=object).where(lambda s: s.notna(), None),
            "ratio": [0.5, 0.1, 0.2, np.inf, np.nan, 0.3],
            "plan": ["basic", "pro", "pro", "basic", "basic", "gold"],
        }
    )
    frame.loc[0, "age"] = "thirty"
    result = split(contract, frame)
    assert found(result) == [
        (0, "age", "wrong_type"),
        (1, "age", "null"),
        (2, "age", "above_maximum"),
        (3, "age", "below_minimum"),
        (3, "ratio", "not_finite"),
        (4, "ratio", "null"),
        (5, "plan", "unknown_category"),
    ]
    assert result.problems["value"].tolist() == ["thirty", "None", "150", "-1", "inf", "nan", "gold"]


def test_problem_codes_are_a_small_documented_set() -> None:
    assert PROBLEM_CODES == (
        "missing_column",
        "unexpected_column",
        "null",
        "wrong_type",
        "not_finite",
        "below_minimum",
        "above_maximum",
        "unknown_category",
    )


def test_missing_required_column_is_reported_once_and_rejects_every_row() -> None:
    result = split(contract_of(AGE, SCORE), pd.DataFrame({"score": [1.0, 2.0, 3.0]}))
    assert found(result) == [(-1, "age", "missing_column")]
    assert len(result.valid) == 0 and len(result.rejected) == 3
    assert result.rejected["_problems"].tolist() == ["'age': missing_column"] * 3
    with pytest.raises(
        ContractViolation, match=r"3 of 3 rows break the contract: column 'age': missing_column"
    ):
        contract_of(AGE, SCORE).validate(pd.DataFrame({"score": [1.0, 2.0, 3.0]}))


def test_missing_optional_column_comes_back_as_nulls_of_its_type() -> None:
    optional = ColumnContract("visits", "integer", nullable=True, required=False)
    result = split(contract_of(SCORE, optional), pd.DataFrame({"score": [1.0, 2.0]}))
    assert result.ok
    assert str(result.valid["visits"].dtype) == "Int64" and result.valid["visits"].isna().all()


def test_extra_columns_are_dropped_by_default() -> None:
    result = split(contract_of(SCORE), pd.DataFrame({"note": ["x"], "score": [1.0]}))
    assert list(result.valid.columns) == ["score"]


def test_extra_columns_can_be_kept_after_the_contract_columns() -> None:
    result = split(contract_of(SCORE, extra_columns="keep"), pd.DataFrame({"note": ["x"], "score": [1.0]}))
    assert list(result.valid.columns) == ["score", "note"]
    assert result.valid["note"].tolist() == ["x"]


def test_extra_columns_can_be_rejected_once_per_column() -> None:
    contract = contract_of(SCORE, extra_columns="reject")
    result = split(contract, pd.DataFrame({"note": ["x", "y"], "score": [1.0, 2.0]}))
    assert found(result) == [(-1, "note", "unexpected_column")]
    assert len(result.rejected) == 2 and len(result.valid) == 0


def test_extra_columns_whose_names_read_the_same_are_each_rejected() -> None:
    # 1 and "1" are two columns of a frame but one name in a message: the problems table lists both
    contract = contract_of(SCORE, extra_columns="reject")
    result = split(contract, pd.DataFrame({1: ["x"], "1": ["y"], "score": [1.0]}))
    assert found(result) == [(-1, "1", "unexpected_column"), (-1, "1", "unexpected_column")]
    with pytest.raises(ContractViolation, match="unexpected_column"):
        contract.validate([{1: "x", "1": "y", "score": 1.0}])


# --- split and reject ----------------------------------------------------------------------------------


def test_split_returns_good_rows_coerced_and_bad_rows_as_given_with_reasons() -> None:
    contract = contract_of(AGE, ColumnContract("weight", "float", nullable=False), PLAN)
    frame = pd.DataFrame(
        {
            "age": [30.0, 41.0, 52.5, 7.0],
            "weight": [70, 80, 90, -5],
            "plan": ["pro", "gold", "basic", "basic"],
        },
        index=["a", "b", "c", "d"],
    )
    result = split(contract, frame)
    assert result.rows == 4 and len(result.valid) + len(result.rejected) == result.rows
    assert list(result.valid.index) == ["a", "d"]
    assert result.valid.dtypes.astype(str).tolist() == ["int64", "float64", "str"]
    assert result.valid["age"].tolist() == [30, 7]
    assert list(result.rejected.index) == ["b", "c"]
    assert result.rejected["age"].tolist() == [41.0, 52.5]  # as given, not coerced
    assert result.rejected["_problems"].tolist() == [
        "'plan': unknown_category ('gold')",
        "'age': wrong_type ('52.5')",
    ]


def test_a_row_with_several_problems_lists_them_all_in_contract_order() -> None:
    contract = contract_of(AGE, ColumnContract("weight", "float", nullable=False), PLAN)
    result = split(contract, pd.DataFrame({"plan": ["gold"], "weight": [None], "age": [-3]}))
    assert result.rejected["_problems"].tolist() == [
        "'age': below_minimum ('-3'); 'weight': null; 'plan': unknown_category ('gold')"
    ]


def test_reject_mode_raises_a_violation_naming_row_column_and_problem() -> None:
    frame = pd.DataFrame({"age": [10, 20, 130, 40], "score": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(ContractViolation) as raised:
        contract_of(AGE, SCORE).validate(frame)
    error = raised.value
    assert isinstance(error, InvalidInput)
    assert str(error) == "1 of 4 rows break the contract: row 2, 'age': above_maximum ('130')"
    assert error.result.rows == 4 and len(error.result.valid) == 3
    assert error.result.problem_list() == [Problem(2, "age", "above_maximum", "130")]


def test_reject_mode_returns_the_coerced_rows_when_all_pass() -> None:
    result = contract_of(SCORE).validate(pd.DataFrame({"score": [1, 2]}))
    assert result.ok and result.valid["score"].dtype == np.float64


def test_the_message_never_contains_a_long_payload() -> None:
    payload = "x" * 10_000
    frame = pd.DataFrame({"plan": [payload] * 50, "age": [1] * 50})
    with pytest.raises(ContractViolation) as raised:
        contract_of(AGE, PLAN).validate(frame)
    message = str(raised.value)
    assert len(message) < 700
    assert "row 0, 'plan': unknown_category ('" in message and message.endswith("; and 45 more")
    assert raised.value.result.problems["value"].str.len().max() == 80
    assert max(len(problem.value) for problem in raised.value.problems) == 80
    assert "x" * 81 not in raised.value.result.rejected["_problems"].iloc[0]


def test_summary_shows_the_first_problems_and_counts_the_rest() -> None:
    frame = pd.DataFrame({"age": [200, 300, 5, 400]})
    result = split(contract_of(AGE), frame)
    assert result.summary(limit=2) == (
        "3 of 4 rows break the contract: row 0, 'age': above_maximum ('200'); "
        "row 1, 'age': above_maximum ('300'); and 1 more"
    )
    assert split(contract_of(AGE), frame.iloc[[2]]).summary() == "all 1 rows meet the contract"


def test_max_problems_caps_the_listing_but_not_the_split() -> None:
    frame = pd.DataFrame({"age": [-1] * 10 + [5] * 5})
    result = split(contract_of(AGE), frame, max_problems=3)
    assert len(result.problems) == 3 and result.problem_count == 10
    assert len(result.rejected) == 10 and len(result.valid) == 5
    assert result.rejected["_problems"].tolist()[3] == "problems not listed (max_problems reached)"
    assert result.summary(limit=2).endswith("; and 8 more")


# --- input shapes --------------------------------------------------------------------------------------


def test_accepts_a_list_of_row_mappings() -> None:
    rows = [{"age": 30, "score": 0.5}, {"age": "x", "score": None}, {"score": 1.5, "age": 44}]
    result = split(contract_of(AGE, SCORE), rows)
    assert found(result) == [(1, "age", "wrong_type")]
    assert result.valid["age"].tolist() == [30, 44]


def test_accepts_a_mapping_of_columns() -> None:
    result = split(contract_of(AGE, SCORE), {"age": [1, 2], "score": [0.5, None]})
    assert result.ok and result.valid["score"].isna().tolist() == [False, True]


def test_an_empty_list_is_zero_valid_rows() -> None:
    result = contract_of(AGE, SCORE).validate([])
    assert result.ok and result.rows == 0 and list(result.valid.columns) == ["age", "score"]


def test_accepts_a_pyarrow_table_with_nullable_integers() -> None:
    table = pa.table({"age": pa.array([1, None, 3]), "score": pa.array([0.5, 1.0, None])})
    result = split(contract_of(AGE, SCORE), table)
    assert found(result) == [(1, "age", "null")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("age,score\n1,2", "cannot read a str as a table"),
        (42, "cannot read a int as a table"),
        (pd.Series([1, 2]), "pass a DataFrame"),
        ([1, 2, 3], "one mapping .* per row; item 0 is a int"),
        ({"age": [1, 2], "score": [1.0]}, "equal lengths: 'age' has 2, 'score' has 1"),
        ({"age": 1, "score": 2.0}, "column 'age' of a mapping input must be a list"),
    ],
)
def test_non_tabular_input_raises_even_in_split_mode(data: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        split(contract_of(AGE, SCORE), data)


def test_duplicate_input_columns_are_refused() -> None:
    frame = pd.DataFrame([[1, 2]], columns=["age", "age"])
    with pytest.raises(InvalidInput, match="duplicate column names"):
        split(contract_of(AGE), frame)


# --- coercions -----------------------------------------------------------------------------------------


def test_integers_are_accepted_as_floats() -> None:
    result = split(contract_of(SCORE), pd.DataFrame({"score": pd.array([1, None, 3], dtype="Int64")}))
    assert result.ok and result.valid["score"].dtype == np.float64
    assert result.valid["score"].isna().tolist() == [False, True, False]


def test_floats_are_accepted_as_integers_only_when_whole() -> None:
    result = split(contract_of(AGE), pd.DataFrame({"age": [1.0, 2.5, 3.0, np.inf, 1e30]}))
    assert found(result) == [(1, "age", "wrong_type"), (3, "age", "wrong_type"), (4, "age", "wrong_type")]
    assert result.valid["age"].tolist() == [1, 3] and result.valid["age"].dtype == np.int64


def test_booleans_are_not_numbers() -> None:
    contract = contract_of(ColumnContract("x", "float", False), ColumnContract("n", "integer", False))
    frame = pd.DataFrame({"x": pd.Series([True, 1.5], dtype=object), "n": [False, True]})
    assert found(split(contract, frame)) == [
        (0, "x", "wrong_type"),
        (0, "n", "wrong_type"),
        (1, "n", "wrong_type"),
    ]


def test_numeric_strings_are_numbers_only_for_text_input() -> None:
    contract = contract_of(AGE, SCORE)
    frame = pd.DataFrame({"age": ["42", " 7 ", "4.0", "abc"], "score": ["1.5", "", "NaN", "1e3"]})
    assert found(split(contract, frame)) == [
        (0, "age", "wrong_type"),
        (0, "score", "wrong_type"),
        (1, "age", "wrong_type"),
        (1, "score", "wrong_type"),
        (2, "age", "wrong_type"),
        (2, "score", "wrong_type"),
        (3, "age", "wrong_type"),
        (3, "score", "wrong_type"),
    ]
    result = split(contract, frame, text_input=True)
    assert found(result) == [(3, "age", "wrong_type")]
    assert result.valid["age"].tolist() == [42, 7, 4]
    assert result.valid["score"].tolist()[0] == 1.5 and np.isnan(result.valid["score"].tolist()[1])


def test_boolean_text_is_read_only_for_text_input() -> None:
    contract = contract_of(ColumnContract("ok", "boolean", nullable=True))
    frame = pd.DataFrame({"ok": ["true", "False", "1", "0", "", "yes"]})
    assert [p for _, _, p in found(split(contract, frame))] == ["wrong_type"] * 6
    result = split(contract, frame, text_input=True)
    assert found(result) == [(5, "ok", "wrong_type")]
    assert result.valid["ok"].tolist() == [True, False, True, False, pd.NA]
    assert str(result.valid["ok"].dtype) == "boolean"


def test_csv_zero_one_columns_read_as_numbers_are_booleans_for_text_input() -> None:
    contract = contract_of(ColumnContract("ok", "boolean", nullable=False))
    result = split(contract, pd.DataFrame({"ok": [0, 1, 2]}), text_input=True)
    assert found(result) == [(2, "ok", "wrong_type")]
    assert result.valid["ok"].tolist() == [False, True]
    assert found(split(contract, pd.DataFrame({"ok": [0, 1]}))) == [
        (0, "ok", "wrong_type"),
        (1, "ok", "wrong_type"),
    ]


def test_numbers_in_a_text_category_are_wrong_unless_text_input_compares_them_as_text() -> None:
    contract = contract_of(
        ColumnContract("zip", "category", False, categories=("0042", "75001"), closed=True)
    )
    rows = [{"zip": 75001}, {"zip": "0042"}, {"zip": 99999}]
    assert found(split(contract, rows)) == [(0, "zip", "wrong_type"), (2, "zip", "wrong_type")]
    result = split(contract, rows, text_input=True)
    assert found(result) == [(2, "zip", "unknown_category")]
    assert result.valid["zip"].tolist() == ["75001", "0042"]


def test_numbers_are_accepted_in_a_category_of_numbers() -> None:
    contract = contract_of(ColumnContract("grade", "category", False, categories=(1, 2, 3), closed=True))
    result = split(contract, pd.DataFrame({"grade": [1, 2.0, 4]}))
    assert found(result) == [(2, "grade", "unknown_category")]
    assert found(split(contract, [{"grade": "2"}])) == [(0, "grade", "wrong_type")]
    assert split(contract, [{"grade": "2"}], text_input=True).ok


def test_categorical_input_is_checked_through_its_categories() -> None:
    frame = pd.DataFrame({"plan": pd.Categorical(["pro", None, "gold", "pro"]), "age": [1, 2, 3, 4]})
    result = split(contract_of(AGE, PLAN), frame)
    assert found(result) == [(1, "plan", "null"), (2, "plan", "unknown_category")]
    assert isinstance(result.valid["plan"].dtype, pd.CategoricalDtype)


def test_nan_is_null_and_infinity_is_not_finite() -> None:
    nullable = contract_of(ColumnContract("x", "float", nullable=True))
    result = split(nullable, pd.DataFrame({"x": [np.nan, np.inf, -np.inf, 1.0]}))
    assert found(result) == [(1, "x", "not_finite"), (2, "x", "not_finite")]
    strict = contract_of(ColumnContract("x", "float", nullable=False))
    assert found(split(strict, [{"x": None}, {"x": float("nan")}])) == [(0, "x", "null"), (1, "x", "null")]


def test_every_null_spelling_counts_as_null() -> None:
    strict = contract_of(ColumnContract("x", "string", nullable=False))
    frame = pd.DataFrame({"x": pd.Series([None, np.nan, pd.NA, pd.NaT, "fine"], dtype=object)})
    assert [p for _, _, p in found(split(strict, frame))] == ["null"] * 4


# --- timestamps ----------------------------------------------------------------------------------------


AT_UTC = ColumnContract("at", "datetime", nullable=False, timezone="UTC", minimum="2024-01-01T00:00:00+00:00")
AT_NAIVE = ColumnContract("at", "datetime", nullable=False)


def test_naive_and_aware_timestamps_do_not_mix() -> None:
    naive = pd.DataFrame({"at": pd.to_datetime(["2024-05-01 10:00"])})
    aware = pd.DataFrame({"at": pd.to_datetime(["2024-05-01 10:00"]).tz_localize("Asia/Tokyo")})
    assert found(split(contract_of(AT_UTC), naive)) == [(0, "at", "wrong_type")]
    assert found(split(contract_of(AT_NAIVE), aware)) == [(0, "at", "wrong_type")]
    assert split(contract_of(AT_NAIVE), naive).ok


def test_aware_timestamps_are_compared_in_utc_and_converted_to_the_contract_zone() -> None:
    stamps = pd.to_datetime(["2024-01-01 08:00", "2024-01-01 10:00"]).tz_localize("Asia/Tokyo")  # UTC-9h
    result = split(contract_of(AT_UTC), pd.DataFrame({"at": stamps}))
    assert found(result) == [(0, "at", "below_minimum")]
    assert str(result.valid["at"].dtype) == "datetime64[us, UTC]"
    assert result.valid["at"].iloc[0] == pd.Timestamp("2024-01-01 01:00", tz="UTC")


def test_iso_strings_are_timestamps_only_for_text_input() -> None:
    rows = [
        {"at": "2024-02-01T12:00:00Z"},
        {"at": "2024-02-01T12:00:00+02:00"},
        {"at": "2024-02-01 12:00"},
        {"at": "yesterday"},
    ]
    assert [p for _, _, p in found(split(contract_of(AT_UTC), rows))] == ["wrong_type"] * 4
    result = split(contract_of(AT_UTC), rows, text_input=True)
    assert found(result) == [(2, "at", "wrong_type"), (3, "at", "wrong_type")]
    assert result.valid["at"].tolist() == [
        pd.Timestamp("2024-02-01 12:00", tz="UTC"),
        pd.Timestamp("2024-02-01 10:00", tz="UTC"),
    ]
    naive = split(contract_of(AT_NAIVE), rows, text_input=True)
    assert found(naive) == [(0, "at", "wrong_type"), (1, "at", "wrong_type"), (3, "at", "wrong_type")]


def test_datetime_objects_with_different_zones_are_accepted_by_an_aware_contract() -> None:
    rows = [
        {"at": pd.Timestamp("2024-03-01 12:00", tz="Europe/Paris")},
        {"at": pd.Timestamp("2024-03-01 12:00", tz="America/New_York")},
        {"at": pd.Timestamp("2024-03-01 12:00")},
    ]
    result = split(contract_of(AT_UTC), rows)
    assert found(result) == [(2, "at", "wrong_type")]
    assert result.valid["at"].tolist() == [
        pd.Timestamp("2024-03-01 11:00", tz="UTC"),
        pd.Timestamp("2024-03-01 17:00", tz="UTC"),
    ]


def test_integers_too_large_for_any_type_are_problems_not_crashes() -> None:
    rows = [{"x": 10**400}, {"x": -(10**5000)}, {"x": 1}]
    floats = split(contract_of(ColumnContract("x", "float", False)), rows)
    assert found(floats) == [(0, "x", "not_finite"), (1, "x", "not_finite")]
    assert floats.problems["value"].tolist()[1] == "<int too long to show>"
    assert [p for _, _, p in found(split(contract_of(ColumnContract("x", "integer", False)), rows))] == [
        "wrong_type",
        "wrong_type",
    ]


def test_pyarrow_backed_frames_are_checked_like_numpy_ones() -> None:
    frame = pd.DataFrame({"age": [1, None, 300], "score": [0.5, None, 1.0]}).convert_dtypes(
        dtype_backend="pyarrow"
    )
    result = split(contract_of(AGE, SCORE), frame)
    assert found(result) == [(1, "age", "null"), (2, "age", "above_maximum")]
    assert result.valid["age"].dtype == np.int64 and result.valid["score"].dtype == np.float64


def test_a_categorical_of_numbers_is_checked_as_numbers() -> None:
    frame = pd.DataFrame({"age": pd.Categorical([3, 7, None, 500])})
    result = split(contract_of(dataclass_replace(AGE, nullable=True)), frame)
    assert found(result) == [(3, "age", "above_maximum")]
    assert str(result.valid["age"].dtype) == "Int64" and result.valid["age"].tolist() == [3, 7, pd.NA]


def test_a_violation_survives_pickling_with_its_result() -> None:
    with pytest.raises(ContractViolation) as raised:
        contract_of(AGE).validate(pd.DataFrame({"age": [500]}))
    copy = pickle.loads(pickle.dumps(raised.value))
    assert str(copy) == str(raised.value) and copy.result.problem_list() == raised.value.result.problem_list()


# --- the clean single-row path -------------------------------------------------------------------------


def twenty_floats() -> tuple[Contract, pd.DataFrame]:
    training = pd.DataFrame(np.random.default_rng(0).normal(size=(200, 20))).add_prefix("f")
    return Contract.infer(training), training.iloc[[7]].reset_index(drop=True)


def test_a_clean_row_comes_back_equal_to_the_input_and_independent_of_it() -> None:
    contract, row = twenty_floats()
    result = split(contract, row)
    assert result.ok and result.rejected.empty and result.problems.empty
    pd.testing.assert_frame_equal(result.valid, row, check_exact=True)
    result.valid.iloc[0, 0] = 99.0
    result.valid.index.name = "renamed"
    assert row.iloc[0, 0] != 99.0 and row.index.name is None
    row.iloc[0, 1] = -99.0
    assert result.valid.iloc[0, 1] != -99.0


def test_one_bad_cell_among_twenty_float_columns_is_reported_at_its_row_and_column() -> None:
    contract, row = twenty_floats()
    rows = pd.concat([row, row, row], ignore_index=True)
    rows.loc[1, "f13"] = np.nan
    rows.loc[2, "f4"] = -np.inf
    result = split(contract, rows)
    assert found(result) == [(1, "f13", "null"), (2, "f4", "not_finite")]
    assert result.valid.index.tolist() == [0] and result.rejected.index.tolist() == [1, 2]
    assert result.rejected["_problems"].tolist() == ["'f13': null", "'f4': not_finite ('-inf')"]


def test_a_coerced_column_makes_the_clean_path_rebuild_the_valid_rows() -> None:
    contract, row = twenty_floats()
    result = split(contract, row.astype("float32"))
    assert result.ok and (result.valid.dtypes == np.float64).all()
    pd.testing.assert_frame_equal(result.valid, row.astype("float32").astype("float64"), check_exact=True)
