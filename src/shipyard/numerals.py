"""Whole numbers as people and clients type them: version numbers, byte counts, sizes in headers and paths.

Python's ``str.isdigit`` is true for '²' and '٣', which ``int`` then refuses or reads as 3; ``int`` also
reads ' 7', '+7' and '1_000', and raises on more than 4,300 digits. Text that comes from outside (a URL
path, a header, a command-line reference, a file name) is read here instead: ASCII digits only, no sign,
no spaces, no separators, and no larger than ``maximum``, so a caller either gets its number or None and
says what it wanted in its own words.
"""

from __future__ import annotations

#: The largest integer a database column (SQLite, PostgreSQL BIGINT) holds.
MAX_INTEGER = 2**63 - 1


def is_whole_number(text: object) -> bool:
    """True when ``text`` is a string of ASCII digits 0-9 (at least one), and nothing else."""
    return isinstance(text, str) and text.isascii() and text.isdigit()


def whole_number(text: object, *, maximum: int = MAX_INTEGER) -> int | None:
    """The number ``text`` spells in ASCII digits, or None when it is not one or is above ``maximum``."""
    if not is_whole_number(text):
        return None
    assert isinstance(text, str)
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(maximum)):  # before int(): a 5,000-digit path must not reach the conversion
        return None
    value = int(digits)
    return value if value <= maximum else None
