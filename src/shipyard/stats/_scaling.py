"""Exact power-of-two scaling, so arithmetic on floats near the limit of float64 does not overflow.

Sums, squared deviations and quantile interpolation of values around 1e308 overflow to inf (or give NaN
as inf - inf) although the results themselves are representable. Dividing by a power of two only changes
the exponent, so computing on scaled values and scaling back gives bit-for-bit the same answer as the plain
computation whenever that one does not overflow — the robustness costs no accuracy.
"""

from __future__ import annotations

import math


def power_of_two_scale(*values: float) -> float:
    """A power of two that brings every ``abs(value)`` below 2 (1.0 when they are all zero).

    It is at most the largest magnitude itself, so it never overflows even for values near 1.8e308.
    """
    largest = max(abs(value) for value in values)
    return math.ldexp(1.0, math.frexp(largest)[1] - 1) if largest > 0 else 1.0
