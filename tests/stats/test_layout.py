from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from shipyard.errors import InvalidInput
from shipyard.stats import CategoricalLayout, NumericLayout, ProfileLayout


def test_numeric_edges_are_the_distinct_inner_quantiles() -> None:
    layout = ProfileLayout.infer(pd.DataFrame({"x": np.arange(100, dtype=float)}), bins=4)

    assert layout.columns["x"] == NumericLayout(tuple(np.quantile(np.arange(100), [0.25, 0.5, 0.75])))
    assert layout.columns["x"].bin_count == 4


def test_default_layout_has_ten_bins_for_continuous_data() -> None:
    values = np.random.default_rng(1).normal(size=1000)
    layout = ProfileLayout.infer(pd.DataFrame({"x": values}))

    assert len(layout.columns["x"].edges) == 9


def test_constant_column_gets_one_edge() -> None:
    layout = ProfileLayout.infer(pd.DataFrame({"x": [3.5] * 20}))

    assert layout.columns["x"] == NumericLayout((3.5,))


def test_repeated_quantiles_are_deduplicated() -> None:
    layout = ProfileLayout.infer(pd.DataFrame({"x": [0] * 90 + list(range(1, 11))}), bins=10)

    edges = layout.columns["x"].edges
    assert edges[0] == 0.0
    assert len(edges) == len(set(edges))


@pytest.mark.parametrize(
    "column",
    [
        pd.Series([np.nan] * 5),
        pd.Series([None] * 5, dtype="Int64"),
        pd.Series([np.inf, -np.inf, np.nan]),
    ],
    ids=["float-nan", "nullable-int-na", "only-infinities"],
)
def test_column_without_finite_values_gets_no_edges(column: pd.Series) -> None:
    layout = ProfileLayout.infer(pd.DataFrame({"x": column}))

    assert layout.columns["x"] == NumericLayout(())


def test_infinities_do_not_move_the_edges() -> None:
    finite = pd.DataFrame({"x": np.arange(10.0)})
    with_infinities = pd.DataFrame({"x": [*np.arange(10.0), np.inf, -np.inf]})

    assert ProfileLayout.infer(with_infinities, bins=3) == ProfileLayout.infer(finite, bins=3)


def test_kinds_override_makes_an_integer_column_categorical() -> None:
    data = pd.DataFrame({"zip_code": [75001, 75002, 75001, 10115]})

    layout = ProfileLayout.infer(data, kinds={"zip_code": "categorical"})

    assert layout.columns["zip_code"] == CategoricalLayout((75001, 10115, 75002))
    assert all(type(value) is int for value in layout.columns["zip_code"].vocabulary)


def test_kinds_override_can_make_a_boolean_column_numeric() -> None:
    layout = ProfileLayout.infer(pd.DataFrame({"flag": [True, False, True]}), kinds={"flag": "numeric"})

    assert isinstance(layout.columns["flag"], NumericLayout)


def test_kinds_naming_an_unknown_column_is_refused() -> None:
    with pytest.raises(InvalidInput, match="'zipcode'.*does not have"):
        ProfileLayout.infer(pd.DataFrame({"zip_code": [1]}), kinds={"zipcode": "categorical"})


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(InvalidInput, match="'numeric' or 'categorical'"):
        ProfileLayout.infer(pd.DataFrame({"x": [1]}), kinds={"x": "ordinal"})  # type: ignore[dict-item]


def test_text_column_forced_numeric_says_how_to_fix_it() -> None:
    with pytest.raises(InvalidInput, match="'city'.*pd.to_numeric"):
        ProfileLayout.infer(pd.DataFrame({"city": ["Paris", "Lyon"]}), kinds={"city": "numeric"})


def test_vocabulary_keeps_the_top_k_values_by_count_then_by_text() -> None:
    values = ["b"] * 3 + ["a"] * 3 + ["d"] * 2 + ["c"] * 2 + ["e"]

    layout = ProfileLayout.infer(pd.DataFrame({"letter": values}), top_k=3)

    assert layout.columns["letter"] == CategoricalLayout(("a", "b", "c"))


def test_vocabulary_does_not_depend_on_row_order() -> None:
    values = pd.Series([f"v{index % 40}" for index in range(200)] + ["rare"] * 3)
    orders = [values, values[::-1], values.sample(frac=1, random_state=7)]

    layouts = [ProfileLayout.infer(pd.DataFrame({"v": order.to_numpy()}), top_k=7) for order in orders]

    assert layouts[0] == layouts[1] == layouts[2]
    assert layouts[0].columns["v"].vocabulary == ("v0", "v1", "v10", "v11", "v12", "v13", "v14")


def test_vocabulary_leaves_out_nulls() -> None:
    layout = ProfileLayout.infer(pd.DataFrame({"c": [None, None, None, "x", np.nan]}))

    assert layout.columns["c"] == CategoricalLayout(("x",))


def test_all_null_text_column_gets_an_empty_vocabulary() -> None:
    layout = ProfileLayout.infer(pd.DataFrame({"c": pd.Series([None, None], dtype=object)}))

    assert layout.columns["c"] == CategoricalLayout(())


def test_datetime_column_is_numeric_in_epoch_seconds() -> None:
    stamps = pd.Series(pd.to_datetime(["1970-01-01", "1970-01-02", "1970-01-03"]))

    layout = ProfileLayout.infer(pd.DataFrame({"when": stamps}), bins=2)

    assert layout.columns["when"] == NumericLayout((86400.0,))


def test_timezone_aware_datetimes_are_read_in_utc() -> None:
    naive = pd.Series(pd.to_datetime(["2024-01-01 00:00", "2024-06-01 12:00"]))
    aware = naive.dt.tz_localize("UTC").dt.tz_convert("America/New_York")

    assert ProfileLayout.infer(pd.DataFrame({"t": aware})) == ProfileLayout.infer(pd.DataFrame({"t": naive}))


def test_dates_far_in_the_future_do_not_overflow() -> None:
    stamps = pd.Series(pd.to_datetime(["2024-01-01", "9999-12-31"]))

    edges = ProfileLayout.infer(pd.DataFrame({"t": stamps}), bins=2).columns["t"].edges

    assert edges[0] == pytest.approx((253402214400 + 1704067200) / 2)


def test_boolean_column_is_categorical_with_a_boolean_vocabulary() -> None:
    layout = ProfileLayout.infer(pd.DataFrame({"flag": [True, False, True]}))

    assert layout.columns["flag"] == CategoricalLayout((True, False))
    assert all(type(value) is bool for value in layout.columns["flag"].vocabulary)


def test_nullable_boolean_column_is_categorical() -> None:
    layout = ProfileLayout.infer(
        pd.DataFrame({"flag": pd.array([True, None, False, False], dtype="boolean")})
    )

    assert layout.columns["flag"] == CategoricalLayout((False, True))


def test_category_dtype_vocabulary_ignores_unused_categories() -> None:
    column = pd.Categorical(["a", "b", "a"], categories=["a", "b", "never"])

    layout = ProfileLayout.infer(pd.DataFrame({"c": column}))

    assert layout.columns["c"] == CategoricalLayout(("a", "b"))


def test_vocabulary_values_are_plain_python_scalars() -> None:
    numbers = CategoricalLayout((np.int64(3), np.int32(4), np.float64(2.5)))
    words = CategoricalLayout((np.str_("a"),))
    flags = CategoricalLayout((np.True_,))

    assert [type(value) for value in numbers.vocabulary] == [int, int, float]
    assert type(words.vocabulary[0]) is str
    assert type(flags.vocabulary[0]) is bool


def test_column_mixing_booleans_and_numbers_is_refused() -> None:
    data = pd.DataFrame({"answer": pd.Series([True, 1, 2, 2, False], dtype=object)})

    with pytest.raises(InvalidInput, match=r"'answer'.*mixes bool and number.*astype\(str\)"):
        ProfileLayout.infer(data)


def test_column_holding_values_json_cannot_store_is_refused() -> None:
    data = pd.DataFrame({"day": pd.Series([pd.Timestamp("2024-01-01").date()] * 3, dtype=object)})

    with pytest.raises(InvalidInput, match=r"'day' holds date values.*astype\(str\)"):
        ProfileLayout.infer(data)


def test_infinite_categories_are_left_out_of_the_vocabulary() -> None:
    data = pd.DataFrame({"rate": [np.inf, np.inf, 0.5]})

    layout = ProfileLayout.infer(data, kinds={"rate": "categorical"})

    assert layout.columns["rate"] == CategoricalLayout((0.5,))


@pytest.mark.parametrize("options", [{"bins": 0}, {"top_k": 0}, {"bins": 2.5}, {"top_k": True}])
def test_non_positive_bins_or_top_k_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(InvalidInput, match="positive integer"):
        ProfileLayout.infer(pd.DataFrame({"x": [1.0]}), **options)  # type: ignore[arg-type]


def test_non_string_column_names_are_refused() -> None:
    with pytest.raises(InvalidInput, match="astype\\(str\\)"):
        ProfileLayout.infer(pd.DataFrame({0: [1.0]}))


def test_arrow_table_gives_the_same_layout_as_the_dataframe() -> None:
    frame = pd.DataFrame(
        {
            "x": [1.5, None, 3.0, 4.0],
            "n": pd.array([1, None, 3, 3], dtype="Int64"),
            "city": ["Paris", None, "Lyon", "Paris"],
            "flag": pd.array([True, None, False, True], dtype="boolean"),
            "when": pd.to_datetime(["2024-01-01", None, "2024-01-03", "2024-01-04"]),
        }
    )

    assert ProfileLayout.infer(pa.Table.from_pandas(frame)) == ProfileLayout.infer(frame)


def test_arrow_decimals_and_dates_are_numeric() -> None:
    table = pa.table(
        {
            "price": pa.array([1.25, 2.5, None], pa.float64()).cast(pa.decimal128(10, 2)),
            "day": pa.array([0, 1, None], pa.date32()),
        }
    )

    layout = ProfileLayout.infer(table, bins=2)

    assert layout.columns["price"] == NumericLayout((1.875,))
    assert layout.columns["day"] == NumericLayout((43200.0,))


@pytest.mark.parametrize(
    ("edges", "message"),
    [((1.0, 1.0), "strictly increasing"), ((2.0, 1.0), "strictly increasing"), ((float("nan"),), "finite")],
)
def test_invalid_edges_are_refused(edges: tuple[float, ...], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        NumericLayout(edges)


def test_vocabulary_listing_a_category_twice_is_refused() -> None:
    with pytest.raises(InvalidInput, match="repeated"):
        CategoricalLayout(("a", "b", "a"))


def test_layout_round_trips_through_json() -> None:
    layout = ProfileLayout(
        {
            "x": NumericLayout((-1.5, 0.0, 2.25)),
            "flag": CategoricalLayout((True, False)),
            "code": CategoricalLayout((3, 1)),
            "rate": CategoricalLayout((0.5, 1.0)),
            "city": CategoricalLayout(("Paris", "Lyon")),
            "empty": NumericLayout(()),
        }
    )

    restored = ProfileLayout.from_dict(json.loads(json.dumps(layout.to_dict(), allow_nan=False)))

    assert restored == layout
    assert list(restored.columns) == list(layout.columns)
    assert [type(value) for value in restored.columns["rate"].vocabulary] == [float, float]


def test_layout_from_a_foreign_dict_is_refused_with_a_hint() -> None:
    with pytest.raises(InvalidInput, match=r"ProfileLayout.to_dict\(\)"):
        ProfileLayout.from_dict({"columns": {}})


def test_layout_keeps_its_own_copy_of_the_columns() -> None:
    columns: dict[str, NumericLayout | CategoricalLayout] = {"x": NumericLayout((1.0,))}
    layout = ProfileLayout(columns)

    columns["y"] = NumericLayout(())

    assert list(layout.columns) == ["x"]
