"""The Kolmogorov and χ² upper tails drift judges by agree with SciPy's to 1e-12 across their range, at the
edges (0, infinity, NaN) too."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import chdtrc, kolmogorov

from shipyard.stats.tails import chi_square_survival, kolmogorov_survival


def test_the_kolmogorov_tail_matches_scipy() -> None:
    for x in [*np.linspace(0.0, 3.5, 701), 0.01, 0.2, 0.999999, 1.0, 1.000001, 5.0, 8.0, 40.0]:
        assert kolmogorov_survival(float(x)) == pytest.approx(float(kolmogorov(x)), rel=1e-10, abs=1e-12), x
    assert kolmogorov_survival(-1.0) == 1.0
    assert math.isnan(kolmogorov_survival(math.nan))


@pytest.mark.parametrize("freedom", [1, 2, 3, 4, 7, 10, 29, 50, 99, 250, 1000])
def test_the_chi_square_tail_matches_scipy(freedom: int) -> None:
    for x in [*np.geomspace(1e-6, 4000.0, 400), freedom - 1.0, freedom + 1.0, freedom + 0.5]:
        if x <= 0:
            continue
        assert chi_square_survival(freedom, float(x)) == pytest.approx(
            float(chdtrc(freedom, x)), rel=1e-9, abs=1e-13
        ), (freedom, x)


def test_the_chi_square_tail_at_its_edges() -> None:
    assert chi_square_survival(3, 0.0) == 1.0
    assert chi_square_survival(3, -2.0) == 1.0
    assert chi_square_survival(3, math.inf) == 0.0
    assert math.isnan(chi_square_survival(3, math.nan))
    assert math.isnan(chi_square_survival(0, 1.0))
