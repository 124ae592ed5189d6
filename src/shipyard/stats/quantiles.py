"""Percentiles of a stream in bounded memory: exact while the stream is short, within 1% once it is long.

A monitoring window over a busy hour sees millions of requests; keeping every latency to take its p99
would make the monitor's memory grow with the traffic. :class:`StreamPercentiles` keeps the values
themselves up to ``exact_limit`` (so small windows, and tests, get numpy's exact percentiles), then folds
them into a histogram whose bins grow geometrically, each ``(1 + a) / (1 - a)`` times as wide as the one
before (the relative-error bins of Masson, Rim and Lee's DDSketch, 2019). Any percentile then comes back
within a relative error ``a`` of a value in its bin, in a fixed number of bins, whatever the count.
"""

from __future__ import annotations

import math

import numpy as np

#: Relative error of a percentile read from the histogram.
RELATIVE_ACCURACY = 0.01
#: Values kept as they are before the histogram takes over.
EXACT_LIMIT = 100_000
#: Positive values below this are counted with zero (a latency of a nanosecond is a zero latency).
SMALLEST = 1e-6
#: Values above this land in the top bin (about 11.6 days in milliseconds).
LARGEST = 1e9

_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
_OFFSET = math.ceil(math.log(SMALLEST) / _LOG_GAMMA)
_BINS = math.ceil(math.log(LARGEST) / _LOG_GAMMA) - _OFFSET + 1


class StreamPercentiles:
    """Non-negative values added a batch at a time; ``percentile(q)`` as ``numpy.percentile`` gives it
    while at most ``exact_limit`` values came, else within ``RELATIVE_ACCURACY``. NaN and ±inf are
    ignored; negative values count as zero."""

    def __init__(self, exact_limit: int = EXACT_LIMIT) -> None:
        self.exact_limit = exact_limit
        self.count = 0
        self._values: list[np.ndarray] = []
        self._zeros = 0
        self._bins: np.ndarray | None = None

    def add(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64)
        values = values[np.isfinite(values)]
        if not values.size:
            return
        self.count += values.size
        if self._bins is None:
            self._values.append(values)
            if self.count > self.exact_limit:
                self._fold(np.concatenate(self._values))
                self._values = []
        else:
            self._fold(values)

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile (0–100), or None when nothing was added."""
        return self.percentiles([q])[0]

    def percentiles(self, qs: list[float]) -> list[float | None]:
        """Several percentiles in one pass (a monitor takes three of every window's latencies)."""
        if not self.count:
            return [None] * len(qs)
        if self._bins is None:
            return _exact(np.sort(np.concatenate(self._values)), qs)
        cumulative = np.cumsum(self._bins)
        return [self._from_bins(cumulative, q) for q in qs]

    def _from_bins(self, cumulative: np.ndarray, q: float) -> float:
        rank = q / 100 * (self.count - 1)
        if rank < self._zeros:
            return 0.0
        index = int(np.searchsorted(cumulative, rank - self._zeros, side="right"))
        index = min(index, _BINS - 1)
        return float(2 * _GAMMA ** (index + _OFFSET) / (_GAMMA + 1))

    def _fold(self, values: np.ndarray) -> None:
        if self._bins is None:
            self._bins = np.zeros(_BINS, dtype=np.int64)
        small = values < SMALLEST
        self._zeros += int(np.count_nonzero(small))
        positive = np.minimum(values[~small], LARGEST)
        indexes = np.ceil(np.log(positive) / _LOG_GAMMA).astype(np.int64) - _OFFSET
        self._bins += np.bincount(np.clip(indexes, 0, _BINS - 1), minlength=_BINS)


def _exact(ordered: np.ndarray, qs: list[float]) -> list[float | None]:
    """``numpy.percentile`` of sorted values (its default, linear method, to the last bit), without its
    overhead: a monitor takes five percentiles of a few hundred values in every window."""
    last = ordered.size - 1
    found: list[float | None] = []
    for q in qs:
        rank = (q / 100) * last
        below = math.floor(rank)
        low, high = float(ordered[below]), float(ordered[min(below + 1, last)])
        share = rank - below
        step = high - low
        found.append(high - step * (1 - share) if share >= 0.5 else low + step * share)
    return found
