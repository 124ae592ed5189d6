"""Data for the flavor tests: a small mixed-type table generated here with a fixed seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

ROWS = 200


@pytest.fixture(scope="session")
def table() -> pd.DataFrame:
    """Three numeric columns and one string column, as a user's training data would have."""
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "age": rng.normal(40, 12, ROWS),
            "income": rng.normal(50_000, 15_000, ROWS),
            "score": rng.uniform(0, 1, ROWS),
            "colour": rng.choice(["red", "green", "blue"], ROWS),
        }
    )


@pytest.fixture(scope="session")
def numeric_table(table: pd.DataFrame) -> pd.DataFrame:
    return table[["age", "income", "score"]]


@pytest.fixture(scope="session")
def string_labels(table: pd.DataFrame) -> np.ndarray:
    """Binary labels spelled as strings, the case where a format must remember the class names."""
    signal = (table["age"] - 40) / 12 + (table["colour"] == "red") + table["score"]
    return np.where(signal > 1.0, "approve", "reject")


@pytest.fixture(scope="session")
def three_classes(table: pd.DataFrame) -> np.ndarray:
    """Labels 0, 1, 2 from the numeric columns."""
    return np.digitize(table["score"] + 0.01 * (table["age"] - 40), [0.4, 0.7])


@pytest.fixture(scope="session")
def target(table: pd.DataFrame) -> np.ndarray:
    """A regression target."""
    return (0.03 * table["age"] + table["income"] / 20_000 + 2 * table["score"]).to_numpy()
