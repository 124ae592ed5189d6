"""How every flavor matches input columns to the ones a model was fitted on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipyard.errors import InvalidInput
from shipyard.flavors._features import FeatureLayout

NAMES = ["a", "b", "c", "d"]


@given(st.permutations(NAMES))
def test_any_column_order_gives_the_same_frame(order: list[str]) -> None:
    frame = pd.DataFrame({name: [index, index * 10] for index, name in enumerate(NAMES)})
    result = FeatureLayout(names=NAMES).frame(frame[order])
    assert list(result.columns) == NAMES
    pd.testing.assert_frame_equal(result, frame)


def test_missing_columns_are_listed_in_the_error() -> None:
    with pytest.raises(InvalidInput, match=r"missing 2 column\(s\) the model needs: 'b', 'd'"):
        FeatureLayout(names=NAMES).frame(pd.DataFrame({"a": [1], "c": [2]}))


def test_long_lists_of_missing_columns_are_summarised() -> None:
    names = [f"f{index}" for index in range(30)]
    with pytest.raises(InvalidInput, match=r"'f9' and 20 more; the model was fitted on"):
        FeatureLayout(names=names).frame(pd.DataFrame({"other": [1]}))


def test_an_array_gets_the_model_column_names() -> None:
    result = FeatureLayout(names=NAMES).frame(np.arange(8).reshape(2, 4))
    assert list(result.columns) == NAMES


def test_an_array_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"input has 3 column\(s\) but the model expects 4"):
        FeatureLayout(names=NAMES).matrix(np.zeros((2, 3)))


def test_row_dicts_and_row_lists_are_accepted() -> None:
    layout = FeatureLayout(names=["a", "b"])
    assert layout.frame([{"b": 2, "a": 1}]).to_dict("records") == [{"a": 1, "b": 2}]
    np.testing.assert_array_equal(FeatureLayout(count=2).matrix([[1, 2], [3, 4]]), [[1, 2], [3, 4]])


def test_unsupported_input_type_says_what_to_pass() -> None:
    with pytest.raises(InvalidInput, match=r"pass a pandas DataFrame, a 2-D numpy array"):
        FeatureLayout().matrix(42)
