"""Numbers typed by people and clients: ASCII digits only, bounded, never a failed conversion."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shipyard.durations import parse_duration
from shipyard.errors import InvalidInput
from shipyard.numerals import MAX_INTEGER, is_whole_number, whole_number
from shipyard.refs import ModelRef, validate_alias
from shipyard.registry.aliases import version_number

#: Strings ``str.isdigit`` accepts (or ``int`` reads) that are not ASCII whole numbers.
NOT_ASCII_DIGITS = ["²", "٣", "１２", "³⁴", "𝟗", "⑤"]


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("7", 7), ("007", 7), (str(MAX_INTEGER), MAX_INTEGER)])
def test_ascii_digits_are_whole_numbers(text: str, value: int) -> None:
    assert is_whole_number(text)
    assert whole_number(text) == value


@pytest.mark.parametrize(
    "text",
    [*NOT_ASCII_DIGITS, "", " 7", "7 ", "+7", "-7", "1_000", "1e3", "7.0", str(MAX_INTEGER + 1), "9" * 5000],
)
def test_anything_else_is_not_a_whole_number(text: str) -> None:
    assert whole_number(text) is None


def test_non_strings_are_not_whole_numbers() -> None:
    assert whole_number(7) is None
    assert not is_whole_number(None)


@pytest.mark.parametrize("number", [*NOT_ASCII_DIGITS, "9" * 5000, "99999999999999999999999"], ids=len)
def test_a_reference_with_a_unicode_or_huge_version_is_a_bad_version(number: str) -> None:
    with pytest.raises(InvalidInput, match="bad version"):
        ModelRef.parse(f"fraud/{number}")


@pytest.mark.parametrize("alias", ["²", "v٣"])
def test_unicode_digits_are_an_alias_not_a_version_number(alias: str) -> None:
    assert validate_alias(alias) == alias


@pytest.mark.parametrize(
    "version",
    ["²", "٣", "9" * 5000, MAX_INTEGER + 1, "huge int"],
    ids=["superscript", "arabic", "5000-digits", "over-max", "huge-int"],
)
def test_alias_moves_refuse_unicode_and_huge_version_numbers(version: object) -> None:
    if version == "huge int":
        version = 10**5000  # a repr of it would raise, so the message must not show it
    with pytest.raises(InvalidInput, match="whole number"):
        version_number(version)


@pytest.mark.parametrize("text", ["٣m", "²h", "9999999999d"])
def test_durations_read_ascii_digits_within_reach(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_duration(text)
    assert parse_duration("90s") == timedelta(seconds=90)
