from __future__ import annotations

import bisect
import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipyard.errors import InvalidInput, NotFound
from shipyard.stats import (
    CategoricalLayout,
    CategoricalSketch,
    NumericLayout,
    NumericSketch,
    Profile,
    ProfileLayout,
)


def numeric(profile: Profile, column: str) -> NumericSketch:
    sketch = profile.columns[column]
    assert isinstance(sketch, NumericSketch)
    return sketch


def categorical(profile: Profile, column: str) -> CategoricalSketch:
    sketch = profile.columns[column]
    assert isinstance(sketch, CategoricalSketch)
    return sketch


def mixed_frame(rows: int = 500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10, 1, rows)
    income[rng.random(rows) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "income": income,
            "age": rng.integers(18, 90, rows),
            "city": rng.choice(["Paris", "Lyon", "Nice", "Lille", None], rows),
            "member": rng.random(rows) < 0.3,
            "signup": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**7, rows), unit="s"),
        }
    )


def test_bin_counts_add_up_to_the_non_null_values() -> None:
    frame = mixed_frame()

    profile = Profile.build(frame)

    income = numeric(profile, "income")
    assert sum(income.counts) == income.count == frame["income"].notna().sum()
    assert income.null_count == frame["income"].isna().sum()
    city = categorical(profile, "city")
    assert sum(city.counts) + city.other_count == city.count == frame["city"].notna().sum()
    assert profile.rows == len(frame)


def test_values_outside_the_reference_range_land_in_the_outer_bins() -> None:
    layout = ProfileLayout({"x": NumericLayout((0.0, 10.0))})

    sketch = numeric(Profile.build(pd.DataFrame({"x": [-5.0, -0.1, 3.0, 10.5, 1e9]}), layout), "x")

    assert sketch.counts == (2, 1, 2)


def test_a_value_equal_to_an_edge_counts_in_the_bin_starting_there() -> None:
    layout = ProfileLayout({"x": NumericLayout((0.0, 10.0))})

    sketch = numeric(Profile.build(pd.DataFrame({"x": [0.0, 10.0]}), layout), "x")

    assert sketch.counts == (0, 1, 1)


def test_a_column_without_edges_has_one_bin_for_everything() -> None:
    layout = ProfileLayout({"x": NumericLayout(())})

    sketch = numeric(Profile.build(pd.DataFrame({"x": [-np.inf, 1.0, 2.0, None]}), layout), "x")

    assert (sketch.counts, sketch.count, sketch.null_count) == ((3,), 3, 1)


@pytest.mark.parametrize(
    "column",
    [
        pd.Series([1.0, np.nan, None, 2.0]),
        pd.Series([1, None, None, 2], dtype="Int64"),
        pd.Series([1, pd.NA, None, 2], dtype=object),
        pd.Series(pd.to_datetime(["2024-01-01", None, None, "2024-01-02"])),
    ],
    ids=["float-nan-none", "nullable-int", "object-na-none", "datetime-nat"],
)
def test_nan_none_na_and_nat_count_as_nulls(column: pd.Series) -> None:
    frame = pd.DataFrame({"x": column})

    sketch = numeric(Profile.build(frame, kinds={"x": "numeric"}), "x")

    assert (sketch.count, sketch.null_count, sum(sketch.counts)) == (2, 2, 2)


def test_categorical_nulls_are_counted_apart_from_other() -> None:
    layout = ProfileLayout({"city": CategoricalLayout(("Paris",))})

    sketch = categorical(
        Profile.build(pd.DataFrame({"city": ["Paris", None, np.nan, "Oslo"]}), layout), "city"
    )

    assert sketch == CategoricalSketch(counts=(1,), other_count=1, null_count=2, count=2)


def test_infinities_count_in_the_outer_bins_and_extremes_but_not_in_the_mean() -> None:
    layout = ProfileLayout({"x": NumericLayout((0.0,))})

    sketch = numeric(Profile.build(pd.DataFrame({"x": [-np.inf, 1.0, 3.0, np.inf, np.inf]}), layout), "x")

    assert sketch.counts == (1, 4)
    assert (sketch.count, sketch.infinite_count, sketch.finite_count) == (5, 3, 2)
    assert (sketch.min, sketch.max) == (-math.inf, math.inf)
    assert sketch.mean == 2.0
    assert sketch.std == pytest.approx(math.sqrt(2.0))


def test_a_column_of_only_infinities_has_no_mean() -> None:
    sketch = numeric(
        Profile.build(
            pd.DataFrame({"x": [np.inf, -np.inf]}), ProfileLayout.infer(pd.DataFrame({"x": [np.inf]}))
        ),
        "x",
    )

    assert (sketch.mean, sketch.m2, sketch.std, sketch.min, sketch.max) == (
        None,
        None,
        None,
        -math.inf,
        math.inf,
    )


def test_std_is_the_sample_standard_deviation() -> None:
    values = np.random.default_rng(3).normal(5, 2, 1000)

    sketch = numeric(Profile.build(pd.DataFrame({"x": values})), "x")

    assert sketch.mean == pytest.approx(values.mean(), rel=1e-12)
    assert sketch.std == pytest.approx(values.std(ddof=1), rel=1e-12)


def test_std_needs_two_values() -> None:
    sketch = numeric(Profile.build(pd.DataFrame({"x": [4.0, None]})), "x")

    assert (sketch.mean, sketch.m2, sketch.std) == (4.0, 0.0, None)


def test_moments_stay_accurate_when_the_offset_dwarfs_the_spread() -> None:
    noise = np.random.default_rng(4).normal(0, 1e-3, 10_000)
    values = 1e9 + noise

    sketch = numeric(Profile.build(pd.DataFrame({"x": values})), "x")

    assert sketch.std == pytest.approx(noise.std(ddof=1), rel=1e-5)


def test_moments_of_huge_values_do_not_overflow() -> None:
    sketch = numeric(Profile.build(pd.DataFrame({"x": [1e308, 1e308, -1e308]})), "x")

    assert sketch.mean == pytest.approx(1e308 / 3)
    assert sketch.m2 == math.inf  # the true value exceeds the float range; it is not NaN
    assert json.dumps(Profile.build(pd.DataFrame({"x": [1e308, -1e308]})).to_dict(), allow_nan=False)


def test_unseen_categories_count_as_other() -> None:
    layout = ProfileLayout({"city": CategoricalLayout(("Paris", "Lyon"))})

    sketch = categorical(
        Profile.build(pd.DataFrame({"city": ["Lyon", "Oslo", "Rome", "Lyon"]}), layout), "city"
    )

    assert (sketch.counts, sketch.other_count, sketch.count) == ((0, 2), 2, 4)


def test_a_boolean_vocabulary_never_matches_the_numbers_one_and_zero() -> None:
    layout = ProfileLayout({"flag": CategoricalLayout((True, False))})

    for column in (pd.Series([1, 0, 1]), pd.Series([1, 0, True], dtype=object)):
        sketch = categorical(Profile.build(pd.DataFrame({"flag": column}), layout), "flag")
        assert sketch.counts == (1 if column.dtype == object else 0, 0)


def test_a_numeric_vocabulary_never_matches_booleans() -> None:
    layout = ProfileLayout({"code": CategoricalLayout((1, 0))})

    sketch = categorical(Profile.build(pd.DataFrame({"code": [True, False, True]}), layout), "code")

    assert (sketch.counts, sketch.other_count) == ((0, 0), 3)


def test_a_numeric_vocabulary_matches_equal_floats_and_ints() -> None:
    layout = ProfileLayout({"code": CategoricalLayout((1, 2))})

    sketch = categorical(Profile.build(pd.DataFrame({"code": [1.0, 2.0, 2.5]}), layout), "code")

    assert (sketch.counts, sketch.other_count) == ((1, 1), 1)


def test_category_dtype_counts_like_text() -> None:
    layout = ProfileLayout({"c": CategoricalLayout(("a", "b"))})
    text = pd.DataFrame({"c": ["a", "b", "z", None, "a"]})

    as_category = Profile.build(text.astype({"c": "category"}), layout)

    assert as_category == Profile.build(text, layout)


def test_arrow_table_gives_the_same_profile_as_the_dataframe() -> None:
    frame = mixed_frame(200)
    layout = ProfileLayout.infer(frame)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    dictionary = table.set_column(2, "city", table.column("city").dictionary_encode())

    assert Profile.build(table, layout) == Profile.build(frame, layout)
    assert Profile.build(dictionary, layout) == Profile.build(frame, layout)


def test_missing_columns_are_named_in_the_error() -> None:
    layout = ProfileLayout.infer(mixed_frame(50))

    with pytest.raises(InvalidInput, match="no column\\(s\\) 'age', 'member'"):
        Profile.build(mixed_frame(50).drop(columns=["age", "member"]), layout)


def test_extra_columns_are_ignored() -> None:
    frame = mixed_frame(50)
    layout = ProfileLayout.infer(frame[["income", "city"]])

    profile = Profile.build(frame.assign(**{"unrelated": 1, "0": "x"}), layout)

    assert list(profile.columns) == ["income", "city"]


def test_duplicate_profiled_column_is_refused() -> None:
    frame = pd.DataFrame([[1.0, 2.0]], columns=["x", "x"])

    with pytest.raises(InvalidInput, match="'x' appears more than once"):
        Profile.build(frame, ProfileLayout({"x": NumericLayout(())}))


def test_input_that_is_not_a_table_is_refused() -> None:
    with pytest.raises(InvalidInput, match="DataFrame or a pyarrow Table"):
        Profile.build([{"x": 1}])  # type: ignore[arg-type]


def test_infer_options_alongside_a_layout_are_refused() -> None:
    frame = mixed_frame(20)

    with pytest.raises(InvalidInput, match="bins only apply"):
        Profile.build(frame, ProfileLayout.infer(frame), bins=5)


def test_build_without_a_layout_infers_one_with_the_options_given() -> None:
    frame = mixed_frame(300)

    profile = Profile.build(frame, bins=4, top_k=2, kinds={"age": "categorical"})

    assert profile.layout == ProfileLayout.infer(frame, bins=4, top_k=2, kinds={"age": "categorical"})
    assert len(numeric(profile, "income").counts) == 4
    assert len(categorical(profile, "age").counts) == 2


def test_merging_profiles_of_different_layouts_is_refused() -> None:
    frame = mixed_frame(100)
    first = Profile.build(frame, bins=5)
    second = Profile.build(frame, bins=4)

    with pytest.raises(
        InvalidInput, match="different layouts cannot be merged; build both with the reference layout"
    ):
        first.merge(second)


def test_merge_all_combines_every_profile() -> None:
    frame = mixed_frame(300)
    layout = ProfileLayout.infer(frame)
    parts = [Profile.build(frame.iloc[start : start + 70], layout) for start in range(0, 300, 70)]

    merged = Profile.merge_all(iter(parts))

    assert merged.rows == 300
    assert merged.columns["city"] == Profile.build(frame, layout).columns["city"]


def test_merge_all_of_nothing_is_refused() -> None:
    with pytest.raises(InvalidInput, match="at least one profile"):
        Profile.merge_all([])


def test_distribution_includes_the_outer_bins_and_other() -> None:
    layout = ProfileLayout({"x": NumericLayout((0.0,)), "c": CategoricalLayout(("a",))})

    profile = Profile.build(pd.DataFrame({"x": [-1.0, 1.0, 2.0, None], "c": ["a", "b", None, "a"]}), layout)

    np.testing.assert_allclose(profile.distribution("x"), [1 / 3, 2 / 3])
    np.testing.assert_allclose(profile.distribution("c"), [2 / 3, 1 / 3])


def test_distribution_of_a_column_without_values_is_all_zeros() -> None:
    layout = ProfileLayout({"x": NumericLayout((0.0, 1.0))})

    distribution = Profile.build(pd.DataFrame({"x": [None, None]}), layout).distribution("x")

    np.testing.assert_array_equal(distribution, [0.0, 0.0, 0.0])


def test_distribution_of_an_unknown_column_suggests_close_names() -> None:
    profile = Profile.build(mixed_frame(20))

    with pytest.raises(NotFound, match="did you mean 'income'"):
        profile.distribution("incom")


def test_profile_dict_is_strict_json_and_round_trips() -> None:
    frame = mixed_frame(300)
    frame["extreme"] = np.where(np.arange(300) % 50 == 0, np.inf, 1.0) * np.where(np.arange(300) < 150, -1, 1)
    profile = Profile.build(frame, kinds={"age": "categorical"})

    text = json.dumps(profile.to_dict(), allow_nan=False)
    restored = Profile.from_dict(json.loads(text))

    assert restored == profile
    assert numeric(restored, "extreme").min == -math.inf


def test_stored_profile_whose_counts_do_not_add_up_is_refused() -> None:
    stored = Profile.build(mixed_frame(50)).to_dict()
    stored["columns"]["income"]["count"] += 1

    with pytest.raises(InvalidInput, match="column 'income'.*add up"):
        Profile.from_dict(stored)


def test_stored_profile_of_a_newer_format_says_to_upgrade() -> None:
    stored = Profile.build(mixed_frame(5)).to_dict()
    stored["version"] = 99

    with pytest.raises(InvalidInput, match="upgrade shipyard"):
        Profile.from_dict(stored)


def test_stored_profile_missing_a_field_names_it() -> None:
    stored = Profile.build(mixed_frame(5)).to_dict()
    del stored["columns"]["city"]["other_count"]

    with pytest.raises(InvalidInput, match="column 'city'.*'other_count'"):
        Profile.from_dict(stored)


def test_zero_row_frame_builds_an_all_zero_profile() -> None:
    frame = mixed_frame(100)
    layout = ProfileLayout.infer(frame)

    empty = Profile.build(frame.iloc[:0], layout)

    assert empty == Profile.empty(layout)
    assert empty.rows == 0
    assert all(sketch.count == 0 and not any(sketch.counts) for sketch in empty.columns.values())


def test_build_without_a_layout_equals_build_with_the_inferred_layout() -> None:
    frame = mixed_frame(2000)

    assert Profile.build(frame, top_k=3) == Profile.build(frame, ProfileLayout.infer(frame, top_k=3))


def test_long_columns_are_counted_exactly_and_summarised_accurately() -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(100, 15, 300_000)
    values[rng.random(values.size) < 0.01] = np.nan
    values[:7] = [np.inf, -np.inf, np.inf, 55.0, 60.0, 65.0, 70.0]
    edges = (55.0, 60.0, 65.0, 70.0, 100.0, 130.0)
    present = values[~np.isnan(values)]
    finite = present[np.isfinite(present)]

    sketch = numeric(
        Profile.build(pd.DataFrame({"x": values}), ProfileLayout({"x": NumericLayout(edges)})), "x"
    )

    expected = np.bincount(np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1)
    assert sketch.counts == tuple(expected.tolist())
    assert (sketch.count, sketch.null_count, sketch.infinite_count) == (
        present.size,
        values.size - present.size,
        3,
    )
    assert sketch.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert sketch.std == pytest.approx(finite.std(ddof=1), rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(-1e3, 1e3) | st.sampled_from([math.nan, math.inf, -math.inf]), max_size=60),
    edges=st.lists(st.integers(-1000, 1000), max_size=120, unique=True).map(sorted),
)
def test_bin_counts_agree_with_a_binary_search_for_few_and_many_edges(
    values: list[float], edges: list[int]
) -> None:
    layout = ProfileLayout({"x": NumericLayout(tuple(edges))})

    sketch = numeric(Profile.build(pd.DataFrame({"x": pd.Series(values, dtype="float64")}), layout), "x")

    expected = [0] * (len(edges) + 1)
    for value in values:
        if not math.isnan(value):
            expected[bisect.bisect_right(edges, value)] += 1
    assert sketch.counts == tuple(expected)
