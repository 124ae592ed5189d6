"""Windows still being written, counted a segment at a time across monitoring runs.

The monitoring runner refreshes the window in progress every minute. Counted from scratch, each refresh
re-reads the whole hour so far, so under steady traffic its time and memory grow through the hour (with
2,000 requests a second, ten minutes in, a refresh read 1.2 million rows). ``OpenWindows`` keeps each
window's running tally between refreshes with the names of the segments it has counted, and a refresh
counts only the segments written since.

Segments are immutable; compaction replaces several with one that names them (``Segment.replaces``). A
segment whose replaced names were all counted is already counted; one that replaces counted and uncounted
segments alike cannot be split, so the window is counted again from scratch. Under load a writer segment
lands between any listing and the compaction after it, so the runner compacts only what has been counted
(``counted``). A change of anything else the tally depends on (the labels, the reference profile) also
starts it again: the caller folds those into the ``fingerprint``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from shipyard.predictions.segments import Segment

T = TypeVar("T")


@dataclass
class _Counted(Generic[T]):
    fingerprint: Hashable
    tally: T
    names: set[str] = field(default_factory=set)


class OpenWindows(Generic[T]):
    """Running tallies of windows by (model, version, window start); see the module's docstring."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, int, datetime], _Counted[T]] = {}
        self._names: set[str] = set()  # every kept window's counted names

    def tally(
        self,
        key: tuple[str, int, datetime],
        fingerprint: Hashable,
        segments: Sequence[Segment],
        new: Callable[[], T],
        count: Callable[[T, list[Segment]], None],
    ) -> T:
        """The tally of ``segments`` for the window ``key``: the kept one, brought up to date with what is
        new (``count(tally, segments)``), or ``new()`` counted over all of them."""
        counted = self._windows.get(key)
        fresh = _uncounted(counted, segments) if counted and counted.fingerprint == fingerprint else None
        if counted is None or fresh is None:
            counted = self._windows[key] = _Counted(fingerprint, new())
            fresh = list(segments)
        count(counted.tally, fresh)
        for segment in segments:
            counted.names.add(segment.name)
            counted.names.update(segment.replaces)
        self._names.update(counted.names)
        return counted.tally

    def counted(self, segment: Segment) -> bool:
        """Whether a kept window has counted ``segment``: merging it with others keeps the tally valid."""
        if segment.name in self._names:
            return True
        return bool(segment.replaces) and self._names.issuperset(segment.replaces)

    def forget_before(self, start: datetime) -> None:
        """Drop the tallies of windows that start before ``start``: they are final, and stored."""
        for key in [key for key in self._windows if key[2] < start]:
            del self._windows[key]
        self._names = set().union(*(counted.names for counted in self._windows.values()))


def _uncounted(counted: _Counted[T], segments: Sequence[Segment]) -> list[Segment] | None:
    """The segments not yet in ``counted``, or None when one merges counted rows with uncounted ones."""
    fresh = []
    for segment in segments:
        if segment.name in counted.names:
            continue
        replaced = set(segment.replaces)
        if replaced and replaced <= counted.names:
            continue
        if replaced & counted.names:
            return None
        fresh.append(segment)
    return fresh
