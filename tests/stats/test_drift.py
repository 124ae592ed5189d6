"""Drift from sketches: the scores agree with the raw-row statistics and flag exactly what moved."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from shipyard.errors import InvalidInput
from shipyard.stats import Profile
from shipyard.stats.drift import ColumnRule, DriftOptions, compare, jensen_shannon, psi


def _frame(
    rows: int, seed: int, shift: float = 0.0, plans: tuple[float, ...] = (0.6, 0.3, 0.1)
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.normal(100 + shift * 15, 15, rows),
            "age": rng.normal(40, 10, rows),
            "plan": rng.choice(["basic", "pro", "team"], rows, p=list(plans)),
        }
    )


@pytest.fixture(scope="module")
def reference() -> Profile:
    return Profile.build(_frame(20_000, seed=0))


def test_a_window_like_the_reference_does_not_drift(reference: Profile) -> None:
    result = compare(reference, Profile.build(_frame(5_000, seed=1), reference.layout))
    assert result.drifted_columns == [] and not result.drifted and result.drifted_share == 0.0
    methods = {column.column: column.method for column in result.columns}
    assert methods == {"amount": "wasserstein", "age": "wasserstein", "plan": "jensen_shannon"}


def test_exactly_the_shifted_columns_drift_and_the_dataset_verdict_follows_the_share(
    reference: Profile,
) -> None:
    window = _frame(5_000, seed=2, shift=1.0, plans=(0.2, 0.3, 0.5))
    result = compare(reference, Profile.build(window, reference.layout))
    assert result.drifted_columns == ["amount", "plan"]
    assert result.drifted_share == pytest.approx(2 / 3) and result.drifted
    assert not compare(
        reference, Profile.build(window, reference.layout), DriftOptions(drift_share=0.9)
    ).drifted


@pytest.mark.parametrize(
    ("shift", "spread", "tolerance"), [(0.5, 1.0, 0.2), (3.0, 1.0, 0.02), (0.0, 1.5, 0.5)]
)
def test_normalised_wasserstein_is_close_to_the_exact_distance_on_the_rows(
    shift: float, spread: float, tolerance: float
) -> None:
    rng = np.random.default_rng(3)
    base = pd.DataFrame({"amount": rng.normal(100, 15, 20_000)})
    moved = pd.DataFrame({"amount": rng.normal(100 + shift * 15, 15 * spread, 20_000)})
    reference = Profile.build(base)
    column = compare(reference, Profile.build(moved, reference.layout)).columns[0]
    exact = stats.wasserstein_distance(base["amount"], moved["amount"]) / base["amount"].std()
    assert column.scores["wasserstein"] == pytest.approx(exact, rel=tolerance)


def test_small_windows_use_ks_whose_statistic_bounds_the_exact_one_from_below(reference: Profile) -> None:
    same, moved = _frame(300, seed=5), _frame(300, seed=6, shift=0.6)
    calm = compare(reference, Profile.build(same, reference.layout))
    shifted = compare(reference, Profile.build(moved, reference.layout))
    amount = shifted.columns[0]
    assert amount.method == "ks" and amount.drifted and amount.p_value is not None and amount.p_value < 0.05
    assert calm.columns[0].method == "ks" and not calm.columns[0].drifted
    exact = stats.ks_2samp(_frame(20_000, seed=0)["amount"], moved["amount"]).statistic
    assert exact - 0.06 <= amount.scores["ks"] <= exact + 1e-9
    assert shifted.columns[2].method == "chi_square" and not shifted.columns[2].drifted


@pytest.mark.parametrize("rows", [300, 5_000])
def test_a_p_value_is_never_a_distance_whatever_the_window_size(reference: Profile, rows: int) -> None:
    """A test's p-value (low = drift) and a distance (high = drift) are two figures: a window sets the one its
    deciding method gives, so a threshold on either means one thing at every window size."""
    for shift in (0.0, 1.0):
        window = Profile.build(_frame(rows, seed=11, shift=shift, plans=(0.2, 0.3, 0.5)), reference.layout)
        for column in compare(reference, window).columns:
            tested = column.method in ("ks", "chi_square")
            assert tested == (rows <= 1_000)
            assert (column.p_value is not None) == tested and (column.distance is not None) != tested
            if tested:
                assert column.p_value == column.scores[f"{column.method}_p_value"]
                assert column.drifted == (column.p_value < column.threshold)
            else:
                assert column.distance == column.scores[column.method]
                assert column.drifted == (column.distance >= column.threshold)
            written = column.to_dict()
            assert "score" not in written
            assert (written["p_value"], written["distance"]) == (column.p_value, column.distance)
        assert compare(reference, window).columns[0].drifted == (shift > 0)


def test_categories_the_reference_never_saw_count_as_drift(reference: Profile) -> None:
    window = _frame(5_000, seed=7)
    window["plan"] = np.where(np.arange(5_000) % 2 == 0, "enterprise", window["plan"])
    plan = compare(reference, Profile.build(window, reference.layout)).columns[2]
    assert plan.drifted and plan.scores["jensen_shannon"] > 0.3 and plan.scores["chi_square_p_value"] < 1e-9


def test_a_window_without_data_is_no_data_never_an_error(reference: Profile) -> None:
    empty = Profile.build(_frame(0, seed=8), reference.layout)
    result = compare(reference, empty)
    assert all(
        column.no_data and not column.drifted and column.p_value is None and column.distance is None
        for column in result.columns
    )
    assert result.drifted_share is None and not result.drifted
    nulls = _frame(50, seed=9)
    nulls["age"] = np.nan
    age = compare(reference, Profile.build(nulls, reference.layout)).columns[1]
    assert age.no_data and age.current_count == 0


def test_a_constant_reference_feature_drifts_when_the_constant_moves() -> None:
    base = pd.DataFrame({"rate": np.full(1_000, 5.0)})
    reference = Profile.build(base)
    same = compare(reference, Profile.build(pd.DataFrame({"rate": np.full(2_000, 5.0)}), reference.layout))
    moved = compare(reference, Profile.build(pd.DataFrame({"rate": np.full(2_000, 6.0)}), reference.layout))
    assert not same.columns[0].drifted and same.columns[0].scores["wasserstein"] == 0.0
    assert moved.columns[0].drifted and moved.columns[0].scores["wasserstein"] == pytest.approx(0.2)


def test_psi_and_jensen_shannon_match_their_definitions() -> None:
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.3, 0.3, 0.4])
    assert psi(p, q) == pytest.approx(sum((b - a) * np.log(b / a) for a, b in zip(p, q, strict=True)))
    middle = (p + q) / 2
    divergence = (stats.entropy(p, middle, base=2) + stats.entropy(q, middle, base=2)) / 2
    assert jensen_shannon(p, q) == pytest.approx(np.sqrt(divergence))
    assert jensen_shannon(p, p) == 0.0 and jensen_shannon(np.array([1.0, 0]), np.array([0, 1.0])) == 1.0


def test_column_rules_choose_method_and_threshold_and_bad_rules_are_refused(reference: Profile) -> None:
    window = Profile.build(_frame(5_000, seed=10, shift=0.3), reference.layout)
    strict = DriftOptions(columns={"amount": ColumnRule("psi", 0.01), "age": ColumnRule(threshold=0.0)})
    result = compare(reference, window, strict)
    assert (result.columns[0].method, result.columns[0].threshold, result.columns[0].drifted) == (
        "psi",
        0.01,
        True,
    )
    assert result.columns[1].drifted  # every distance is >= 0
    with pytest.raises(InvalidInput, match="unknown drift method 'tvd'"):
        DriftOptions(columns={"amount": ColumnRule("tvd")})  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="is numeric"):
        compare(reference, window, DriftOptions(columns={"amount": ColumnRule("chi_square")}))
    with pytest.raises(InvalidInput, match="does not have: salary"):
        compare(reference, window, DriftOptions(columns={"salary": ColumnRule()}))
    with pytest.raises(InvalidInput, match="reference's layout"):
        compare(reference, Profile.build(_frame(100, seed=11)))
