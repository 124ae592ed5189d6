"""Property tests of the promise monitoring relies on: profiling parts and merging equals profiling the whole.

Counts, nulls, minimum, maximum and rows must agree exactly. Mean and standard deviation agree to 1e-9
relative — relative to the values' magnitude as well as to the statistic itself, because a mean close to
zero of values around 1e6 carries rounding errors of about 1e-10 that are large relative to the mean alone.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from shipyard.stats import CategoricalLayout, NumericLayout, NumericSketch, Profile, ProfileLayout

PROPERTY_SETTINGS = settings(max_examples=60, deadline=None)

finite_floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
special_floats = st.sampled_from([math.nan, math.inf, -math.inf, None])
words = st.sampled_from(["a", "b", "c", "Paris", "", "zz"]) | st.text(max_size=2)


@st.composite
def frames(draw: st.DrawFn, max_rows: int = 40) -> pd.DataFrame:
    """Frames with floats (nulls and infinities included), integers, text with nulls and booleans."""
    rows = draw(st.integers(min_value=0, max_value=max_rows))

    def column(elements: st.SearchStrategy[object]) -> list[object]:
        return draw(st.lists(elements, min_size=rows, max_size=rows))

    return pd.DataFrame(
        {
            "amount": pd.Series(column(finite_floats | special_floats), dtype="float64"),
            "count": pd.Series(column(st.integers(-50, 50)), dtype="int64"),
            "city": pd.Series(column(words | st.none()), dtype=object),
            "member": pd.Series(column(st.booleans() | st.none()), dtype=object),
        }
    )


@st.composite
def layouts(draw: st.DrawFn) -> ProfileLayout:
    """A layout inferred from another frame, so data has values outside its bins and vocabulary."""
    reference = draw(frames(max_rows=20))
    return ProfileLayout.infer(
        reference,
        bins=draw(st.integers(min_value=1, max_value=8)),
        top_k=draw(st.integers(min_value=1, max_value=4)),
    )


def magnitude(frame: pd.DataFrame, column: str) -> float:
    """The largest finite absolute value of a numeric column (0.0 when it has none)."""
    values = frame[column].to_numpy(dtype=np.float64)
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size else 0.0


def assert_close(actual: float | None, expected: float | None, scale: float) -> None:
    if actual is None or expected is None:
        assert actual is expected
        return
    assert math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-9 * scale), (actual, expected)


def assert_same_profile(actual: Profile, expected: Profile, whole: pd.DataFrame) -> None:
    """Exact equality of everything counted; mean and std equal to 1e-9 relative (see module docstring)."""
    assert actual.layout == expected.layout
    assert actual.rows == expected.rows
    for name, wanted in expected.columns.items():
        got = actual.columns[name]
        if not isinstance(wanted, NumericSketch):
            assert got == wanted
            continue
        assert isinstance(got, NumericSketch)
        exact = ("counts", "count", "null_count", "infinite_count", "min", "max")
        assert {field: getattr(got, field) for field in exact} == {
            field: getattr(wanted, field) for field in exact
        }
        scale = magnitude(whole, name)
        assert_close(got.mean, wanted.mean, scale)
        assert_close(got.std, wanted.std, scale)


@PROPERTY_SETTINGS
@given(data=frames(), layout=layouts(), cut=st.floats(min_value=0, max_value=1))
def test_merging_the_profiles_of_two_halves_gives_the_profile_of_the_whole(
    data: pd.DataFrame, layout: ProfileLayout, cut: float
) -> None:
    split = round(cut * len(data))
    first, second = data.iloc[:split], data.iloc[split:]

    merged = Profile.build(first, layout).merge(Profile.build(second, layout))

    assert_same_profile(merged, Profile.build(data, layout), data)


@PROPERTY_SETTINGS
@given(data=frames())
def test_a_profile_merged_from_halves_matches_with_the_layout_inferred_from_the_whole(
    data: pd.DataFrame,
) -> None:
    layout = ProfileLayout.infer(data, bins=5, top_k=3)
    half = len(data) // 2

    merged = Profile.build(data.iloc[:half], layout).merge(Profile.build(data.iloc[half:], layout))

    assert_same_profile(merged, Profile.build(data, layout), data)


@PROPERTY_SETTINGS
@given(data=frames(), layout=layouts(), cuts=st.lists(st.floats(0, 1), min_size=2, max_size=2))
def test_merge_is_associative_and_commutative(
    data: pd.DataFrame, layout: ProfileLayout, cuts: list[float]
) -> None:
    low, high = sorted(round(cut * len(data)) for cut in cuts)
    a, b, c = (
        Profile.build(part, layout) for part in (data.iloc[:low], data.iloc[low:high], data.iloc[high:])
    )
    whole = Profile.build(data, layout)

    assert_same_profile(a.merge(b).merge(c), whole, data)
    assert_same_profile(a.merge(b.merge(c)), whole, data)
    assert_same_profile(c.merge(a).merge(b), whole, data)
    assert_same_profile(b.merge(a), a.merge(b), data)


@PROPERTY_SETTINGS
@given(data=frames(), layout=layouts())
def test_a_profile_survives_a_trip_through_strict_json(data: pd.DataFrame, layout: ProfileLayout) -> None:
    profile = Profile.build(data, layout)

    restored = Profile.from_dict(json.loads(json.dumps(profile.to_dict(), allow_nan=False)))

    assert restored == profile
    assert Profile.from_dict(profile.to_dict()) == profile


@PROPERTY_SETTINGS
@given(data=frames(), layout=layouts())
def test_the_profile_of_no_rows_is_the_identity_of_merge(data: pd.DataFrame, layout: ProfileLayout) -> None:
    profile = Profile.build(data, layout)
    nothing = Profile.build(data.iloc[:0], layout)

    assert nothing == Profile.empty(layout)
    assert profile.merge(nothing) == profile
    assert nothing.merge(profile) == profile


@PROPERTY_SETTINGS
@given(data=frames(), layout=layouts())
def test_every_column_accounts_for_every_row(data: pd.DataFrame, layout: ProfileLayout) -> None:
    profile = Profile.build(data, layout)

    for name, sketch in profile.columns.items():
        assert sketch.count + sketch.null_count == len(data)
        distribution = profile.distribution(name)
        assert math.isclose(distribution.sum(), 1.0) if sketch.count else not distribution.any()


@PROPERTY_SETTINGS
@given(
    values=st.lists(
        st.floats(allow_nan=True, allow_infinity=True) | st.floats(min_value=1e300, max_value=1.7e308),
        max_size=30,
    ),
    edges=st.lists(finite_floats, max_size=5, unique=True).map(sorted),
)
def test_any_floats_at_all_give_a_json_storable_profile(values: list[float], edges: list[float]) -> None:
    layout = ProfileLayout({"x": NumericLayout(tuple(edges)), "word": CategoricalLayout(("a",))})
    frame = pd.DataFrame({"x": pd.Series(values, dtype="float64"), "word": "a"})

    profile = Profile.build(frame, layout)

    assert Profile.from_dict(json.loads(json.dumps(profile.to_dict(), allow_nan=False))) == profile
