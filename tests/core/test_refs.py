from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipyard.errors import InvalidInput
from shipyard.refs import ModelRef, validate_alias, validate_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fraud", ModelRef("fraud")),
        ("fraud/3", ModelRef("fraud", version=3)),
        ("fraud@production", ModelRef("fraud", alias="production")),
        ("models:/fraud/3", ModelRef("fraud", version=3)),
        ("models:/fraud@staging", ModelRef("fraud", alias="staging")),
        ("fraud@latest", ModelRef("fraud")),
        ("  churn-v2.1/12 ", ModelRef("churn-v2.1", version=12)),
    ],
)
def test_references_parse_in_all_three_spellings(text: str, expected: ModelRef) -> None:
    assert ModelRef.parse(text) == expected


@pytest.mark.parametrize(
    "text", ["", "models:/", "fraud/", "fraud/0", "fraud/x", "fraud/-1", "@prod", "a/b/c", "f@"]
)
def test_malformed_references_are_rejected(text: str) -> None:
    with pytest.raises(InvalidInput):
        ModelRef.parse(text)


@pytest.mark.parametrize(
    "name",
    ["", " padded", "a/b", "a\\b", "x" * 256, "bad\nname", "tab\tname", "nul\x00", "a@b", "a:b", "..", "."],
)
def test_invalid_names_are_rejected_with_a_reason(name: str) -> None:
    with pytest.raises(InvalidInput, match="model name"):
        validate_name(name)


def test_name_of_255_characters_is_accepted() -> None:
    assert validate_name("x" * 255) == "x" * 255


def test_non_string_name_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="must be a string"):
        validate_name(3)


@pytest.mark.parametrize("alias", ["3", "v2", "latest", "", "a/b"])
def test_aliases_that_would_be_ambiguous_are_rejected(alias: str) -> None:
    with pytest.raises(InvalidInput):
        validate_alias(alias)


@given(
    name=st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=40),
    version=st.integers(min_value=1, max_value=10**9),
)
def test_reference_round_trips_through_its_string_form(name: str, version: int) -> None:
    ref = ModelRef(name, version=version)
    assert ModelRef.parse(str(ref)) == ref
