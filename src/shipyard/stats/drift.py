"""Data drift between a reference profile and a window's profile, computed from sketches alone.

Both profiles count into the reference's layout (the same bins, the same vocabulary), so every test here
works on counts: memory and time depend on the number of bins, never on the number of rows.

Per column, every score is computed and one of them decides, as an experienced user of Evidently expects:

=============  =====================================  ==========================================  =========
column         window of ≤ ``small_window`` rows        larger windows                              also
=============  =====================================  ==========================================  =========
numeric        ``ks``: Kolmogorov–Smirnov p < 0.05      ``wasserstein`` (normalised) ≥ 0.1           ``psi``
categorical    ``chi_square`` p < 0.05                  ``jensen_shannon`` distance ≥ 0.1            ``psi``
=============  =====================================  ==========================================  =========

A column's ``method`` and ``threshold`` can be chosen instead (``psi`` drifts at ≥ 0.2 by default). The
dataset drifts when at least ``drift_share`` (0.5) of the columns with data drift.

Each result means one thing whatever the window's size: ``p_value`` is the deciding test's p-value (low =
drift) and is None when a distance decides; ``distance`` is the deciding distance (high = drift) and is None
when a test decides; ``drifted`` is the verdict by the deciding method's threshold. (Evidently's single
``drift_score`` is one or the other by method, which made a threshold on it mean opposite things.)

How each is computed from bins:

* PSI: Σ (q − p) · ln(q / p) over bins, proportions floored at 1e-4 so an empty bin stays finite.
* Wasserstein-1: ∫|F_ref − F_cur|, the CDFs taken linear inside each bin and the gap falling to 0 within
  two standard deviations beyond the outer edges, and never below |mean_ref − mean_cur| (a lower bound of
  the true distance, and exactly it for a pure shift). It is divided by the reference's standard
  deviation. A large shift is measured to within a few percent, a small one within about 20%; a change of
  spread alone lives mostly in the outer bins and is estimated more roughly (within about 50%), where PSI
  and KS see it too. A reference of zero variance (a constant feature) has no spread to divide by: its
  absolute value is used instead, or 1 for a constant 0, so such a feature drifts when the window moves by
  a tenth of the constant (or by 0.1).
* KS: the largest CDF gap at the bin edges (a lower bound of the exact statistic: bins can hide a gap),
  with the asymptotic two-sample p-value for ``n·m/(n+m)`` effective rows.
* Jensen–Shannon distance: the square root of the JS divergence in base 2, in [0, 1]; "other" (values
  outside the reference's vocabulary) is one more category.
* χ²: the window's category counts against the reference's proportions (floored as for PSI), k − 1 degrees
  of freedom.

A column with no non-null value in the window (or in the reference) gets ``no_data`` instead of a verdict,
and does not count towards the dataset's share: an empty window is never "drift" and never a division by 0.

A handful of rows is not evidence either: four copies of one request differ from any reference, and a test
says so. ``min_rows`` is the fewest non-null values a column needs for a verdict, ``min_dataset_rows`` the
fewest rows the window needs for a dataset verdict. Below them the scores are still computed and reported,
marked ``insufficient``; the column never drifts and the dataset's share and verdict are withheld. Both are 0
here (every window is judged); monitoring sets them per model (``shipyard.monitoring.policy``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from shipyard.errors import InvalidInput
from shipyard.stats.layout import NumericLayout
from shipyard.stats.profile import Profile
from shipyard.stats.sketches import CategoricalSketch, NumericSketch
from shipyard.stats.tails import chi_square_survival, kolmogorov_survival

Method = Literal["ks", "wasserstein", "psi", "jensen_shannon", "chi_square"]
NUMERIC_METHODS: tuple[Method, ...] = ("ks", "wasserstein", "psi")
CATEGORICAL_METHODS: tuple[Method, ...] = ("chi_square", "jensen_shannon", "psi")
#: Thresholds: a p-value below them for the tests, a score at or above them for the distances.
DEFAULT_THRESHOLDS: dict[str, float] = {
    "ks": 0.05,
    "chi_square": 0.05,
    "wasserstein": 0.1,
    "jensen_shannon": 0.1,
    "psi": 0.2,
}
_P_VALUE_METHODS = ("ks", "chi_square")
_FLOOR = 1e-4


@dataclass(frozen=True)
class ColumnRule:
    """How one column is judged: a method (None: chosen by window size) and a threshold (None: default)."""

    method: Method | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class DriftOptions:
    small_window: int = 1000
    drift_share: float = 0.5
    columns: dict[str, ColumnRule] = field(default_factory=dict)
    #: The fewest non-null values a column needs for a verdict, and rows a window needs for a dataset one.
    min_rows: int = 0
    min_dataset_rows: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.drift_share <= 1:
            raise InvalidInput(f"drift_share must be in (0, 1], got {self.drift_share}")
        if self.min_rows < 0 or self.min_dataset_rows < 0:
            raise InvalidInput("min_rows and min_dataset_rows are counts of rows, 0 or more")
        for name, rule in self.columns.items():
            if rule.method is not None and rule.method not in DEFAULT_THRESHOLDS:
                raise InvalidInput(
                    f"column {name!r}: unknown drift method {rule.method!r}; use one of "
                    f"{', '.join(DEFAULT_THRESHOLDS)}"
                )


@dataclass(frozen=True)
class ColumnDrift:
    """One column's verdict by its deciding method, and every method's score.

    Each figure means one thing: ``p_value`` is the deciding test's p-value (ks, chi_square; low = drift),
    None when a distance decides; ``distance`` is the deciding distance (wasserstein, jensen_shannon, psi;
    high = drift), None when a test decides. ``drifted`` is the verdict against ``threshold``.
    """

    column: str
    kind: Literal["numeric", "categorical"]
    method: Method
    threshold: float
    p_value: float | None
    distance: float | None
    drifted: bool
    scores: dict[str, float]
    reference_count: int
    current_count: int
    no_data: bool = False
    #: Too few values in the window to judge (``min_rows``): the scores are shown, the column never drifts.
    insufficient: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "method": self.method,
            "threshold": self.threshold,
            "p_value": self.p_value,
            "distance": self.distance,
            "drifted": self.drifted,
            "scores": dict(self.scores),
            "reference_count": self.reference_count,
            "current_count": self.current_count,
            "no_data": self.no_data,
            "insufficient": self.insufficient,
        }


@dataclass(frozen=True)
class DatasetDrift:
    columns: list[ColumnDrift]
    drift_share: float
    #: The window's rows, and the fewest a dataset verdict needs (0: every window is judged).
    rows: int = 0
    min_rows: int = 0

    @property
    def insufficient(self) -> bool:
        """Too few rows for a dataset verdict: no share, never "drifted"."""
        return self.rows < self.min_rows

    @property
    def judged(self) -> list[ColumnDrift]:
        return [column for column in self.columns if not column.no_data and not column.insufficient]

    @property
    def drifted_columns(self) -> list[str]:
        return [column.column for column in self.columns if column.drifted]

    @property
    def drifted_share(self) -> float | None:
        """Share of the judged columns that drift; None when none is judged or the window has too few rows."""
        judged = self.judged
        return len(self.drifted_columns) / len(judged) if judged and not self.insufficient else None

    @property
    def drifted(self) -> bool:
        share = self.drifted_share
        return share is not None and share >= self.drift_share

    def to_dict(self) -> dict[str, Any]:
        return {
            "drifted": self.drifted,
            "drifted_share": self.drifted_share,
            "drift_share": self.drift_share,
            "drifted_columns": self.drifted_columns,
            "rows": self.rows,
            "min_rows": self.min_rows,
            "insufficient": self.insufficient,
            "columns": [column.to_dict() for column in self.columns],
        }


def compare(reference: Profile, current: Profile, options: DriftOptions | None = None) -> DatasetDrift:
    """Drift of every column of the reference's layout from ``reference`` to ``current``."""
    options = options or DriftOptions()
    if current.layout != reference.layout:
        raise InvalidInput(
            "the window was not profiled with the reference's layout; build it with that layout"
        )
    unknown = sorted(set(options.columns) - set(reference.layout.columns))
    if unknown:
        raise InvalidInput(f"drift rules name column(s) the reference does not have: {', '.join(unknown)}")
    results = []
    for name, layout in reference.layout.columns.items():
        rule = options.columns.get(name, ColumnRule())
        mine, theirs = reference.columns[name], current.columns[name]
        if isinstance(layout, NumericLayout):
            assert isinstance(mine, NumericSketch) and isinstance(theirs, NumericSketch)
            results.append(_numeric(name, layout, mine, theirs, rule, options.small_window))
        else:
            assert isinstance(mine, CategoricalSketch) and isinstance(theirs, CategoricalSketch)
            results.append(_categorical(name, mine, theirs, rule, options.small_window))
    judged = [_enough(result, options.min_rows) for result in results]
    return DatasetDrift(judged, options.drift_share, current.rows, options.min_dataset_rows)


def _enough(result: ColumnDrift, min_rows: int) -> ColumnDrift:
    """The column's result, its verdict withheld when the window holds fewer than ``min_rows`` values."""
    if result.no_data or result.current_count >= min_rows:
        return result
    return replace(result, drifted=False, insufficient=True)


def _numeric(
    name: str,
    layout: NumericLayout,
    reference: NumericSketch,
    current: NumericSketch,
    rule: ColumnRule,
    small: int,
) -> ColumnDrift:
    method: Method = rule.method or ("ks" if current.count <= small else "wasserstein")
    if method not in NUMERIC_METHODS:
        raise InvalidInput(
            f"column {name!r} is numeric; its drift method is one of {', '.join(NUMERIC_METHODS)}"
        )
    threshold = rule.threshold if rule.threshold is not None else DEFAULT_THRESHOLDS[method]
    if reference.count == 0 or current.count == 0:
        return _no_data(name, "numeric", method, threshold, reference.count, current.count)
    p = np.asarray(reference.counts, dtype=np.float64) / reference.count
    q = np.asarray(current.counts, dtype=np.float64) / current.count
    gap = _cdf_gap(p, q)
    effective = reference.count * current.count / (reference.count + current.count)
    scores = {
        "psi": psi(p, q),
        "wasserstein": _wasserstein(layout.edges, p, q, reference, current) / _spread(reference),
        "ks": gap,
        "ks_p_value": _kolmogorov_p_value(gap, effective),
    }
    return _verdict(name, "numeric", method, threshold, scores, reference.count, current.count)


def _categorical(
    name: str, reference: CategoricalSketch, current: CategoricalSketch, rule: ColumnRule, small: int
) -> ColumnDrift:
    method: Method = rule.method or ("chi_square" if current.count <= small else "jensen_shannon")
    if method not in CATEGORICAL_METHODS:
        raise InvalidInput(
            f"column {name!r} is categorical; its drift method is one of {', '.join(CATEGORICAL_METHODS)}"
        )
    threshold = rule.threshold if rule.threshold is not None else DEFAULT_THRESHOLDS[method]
    if reference.count == 0 or current.count == 0:
        return ColumnDrift(
            name,
            "categorical",
            method,
            threshold,
            None,
            None,
            False,
            {},
            reference.count,
            current.count,
            True,
        )
    p = np.asarray((*reference.counts, reference.other_count), dtype=np.float64) / reference.count
    observed = np.asarray((*current.counts, current.other_count), dtype=np.float64)
    q = observed / current.count
    statistic, p_value = _chi_square(observed, p)
    scores = {
        "psi": psi(p, q),
        "jensen_shannon": jensen_shannon(p, q),
        "chi_square": statistic,
        "chi_square_p_value": p_value,
    }
    return _verdict(name, "categorical", method, threshold, scores, reference.count, current.count)


def _verdict(
    name: str,
    kind: Literal["numeric", "categorical"],
    method: Method,
    threshold: float,
    scores: dict[str, float],
    reference_count: int,
    current_count: int,
) -> ColumnDrift:
    counts = (reference_count, current_count)
    if method in _P_VALUE_METHODS:
        p_value = scores[f"{method}_p_value"]
        return ColumnDrift(name, kind, method, threshold, p_value, None, p_value < threshold, scores, *counts)
    distance = scores[method]
    return ColumnDrift(name, kind, method, threshold, None, distance, distance >= threshold, scores, *counts)


def _no_data(
    name: str,
    kind: Literal["numeric", "categorical"],
    method: Method,
    threshold: float,
    reference_count: int,
    current_count: int,
) -> ColumnDrift:
    """A column without a non-null value on one side: no verdict, never "drift"."""
    return ColumnDrift(
        name, kind, method, threshold, None, None, False, {}, reference_count, current_count, no_data=True
    )


def psi(p: np.ndarray, q: np.ndarray) -> float:
    """Population stability index of proportions ``q`` against ``p`` (each floored at 1e-4)."""
    p, q = np.maximum(p, _FLOOR), np.maximum(q, _FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon distance (base 2, so within [0, 1]) between two proportion vectors."""
    middle = (p + q) / 2

    def divergence(a: np.ndarray) -> float:
        present = a > 0
        return float(np.sum(a[present] * np.log2(a[present] / middle[present])))

    return math.sqrt(max(0.0, (divergence(p) + divergence(q)) / 2))


def _cdf_gap(p: np.ndarray, q: np.ndarray) -> float:
    """The largest gap between the two CDFs at the bin edges (plain floats: a few dozen bins)."""
    below_p, below_q = itertools.accumulate(p.tolist()), itertools.accumulate(q.tolist())
    return max((abs(a - b) for a, b in zip(below_p, below_q, strict=True)), default=0.0)


def _kolmogorov_p_value(statistic: float, effective_rows: float) -> float:
    return kolmogorov_survival(statistic * math.sqrt(effective_rows))


def _chi_square(observed: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    expected = np.maximum(reference, _FLOOR)
    expected = expected / expected.sum() * observed.sum()
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    freedom = max(1, len(observed) - 1)
    return statistic, chi_square_survival(freedom, statistic)


def _wasserstein(
    edges: tuple[float, ...], p: np.ndarray, q: np.ndarray, reference: NumericSketch, current: NumericSketch
) -> float:
    """∫|F_p − F_q| from bins, and never less than |mean_p − mean_q| (a lower bound of W1, exact for a
    pure shift).

    Inside the edges the CDFs are taken linear in each bin. Beyond them the gap is taken to fall linearly to
    0 over twice the larger standard deviation (or less, when the extreme values seen are nearer): an outer
    bin has no width of its own, and its farthest value is too unstable to stand for one. In plain floats:
    a layout has a few dozen bins at most, where NumPy's per-call cost outweighs the arithmetic, and a
    monitor judges thousands of windows.
    """
    means = (reference.mean or 0.0), (current.mean or 0.0)
    lower_bound = abs(means[0] - means[1])
    if not edges:
        return lower_bound
    below_p, below_q = itertools.accumulate(p.tolist()), itertools.accumulate(q.tolist())
    gaps = [a - b for a, b, _ in zip(below_p, below_q, edges, strict=False)]  # the CDF gap at each edge
    inner = 0.0
    for start, end, low, high in zip(gaps, gaps[1:], edges, edges[1:], strict=False):
        total = abs(start) + abs(end)
        if start * end >= 0:
            inner += (high - low) * total / 2
        elif total > 0:
            inner += (high - low) * (start * start + end * end) / (2 * total)
    spread = 2 * max(reference.std or 0.0, current.std or 0.0)
    lows = [v for v in (reference.min, current.min) if v is not None and math.isfinite(v)]
    highs = [v for v in (reference.max, current.max) if v is not None and math.isfinite(v)]
    reach_low = min(spread, max(0.0, edges[0] - min([edges[0], *lows])))
    reach_high = min(spread, max(0.0, max([edges[-1], *highs]) - edges[-1]))
    outer = (abs(gaps[0]) * reach_low + abs(gaps[-1]) * reach_high) / 2
    return max(inner + outer, lower_bound)


def _spread(reference: NumericSketch) -> float:
    """What the Wasserstein distance is divided by: the reference's std, else |constant|, else 1."""
    if reference.std:
        return reference.std
    if reference.mean:
        return abs(reference.mean)
    return 1.0
