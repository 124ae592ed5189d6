"""Durations as people write them in configuration and on the command line: ``90s``, ``15m``, ``1h``."""

from __future__ import annotations

import re
from datetime import timedelta

from shipyard.errors import InvalidInput

_DURATION = re.compile(r"^\s*([0-9]{1,12})\s*([smhd])\s*$")  # ASCII digits: \d is any script's
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: A hundred thousand years: far beyond any window or retention, well inside what timedelta holds.
_MAX_SECONDS = 100_000 * 365 * 86400


def parse_duration(text: str, *, what: str = "a duration", minimum: timedelta = timedelta(0)) -> timedelta:
    """``"15m"`` as 15 minutes; at least ``minimum``."""
    match = _DURATION.match(str(text))
    if match is None:
        raise InvalidInput(
            f"{what} is a number and a unit (s, m, h, d), like 30s, 15m, 1h or 1d; got {str(text)[:40]!r}"
        )
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > _MAX_SECONDS:
        raise InvalidInput(f"{what} lasts at most {_MAX_SECONDS // 86400:,}d; got {str(text)[:40]!r}")
    duration = timedelta(seconds=seconds)
    if duration < minimum:
        raise InvalidInput(f"{what} lasts at least {duration_label(minimum)}; got {text!r}")
    return duration


def duration_label(duration: timedelta) -> str:
    """The shortest text ``parse_duration`` reads back: ``1h``, ``15m``, ``1d``, ``45s``."""
    seconds = int(duration.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
