"""Small fitted models for tests, built from data generated here (nothing is downloaded)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression, LogisticRegression


def classification_frame(rows: int = 120, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows), "c": rng.normal(size=rows)})
    target = (frame["a"] + 0.5 * frame["b"] > 0).astype(int).to_numpy()
    return frame, target


def tiny_classifier(seed: int = 0) -> LogisticRegression:
    frame, target = classification_frame(seed=seed)
    return LogisticRegression().fit(frame, target)


def tiny_regressor(seed: int = 0) -> LinearRegression:
    frame, target = classification_frame(seed=seed)
    return LinearRegression().fit(frame, target + frame["c"].to_numpy())


class ThresholdModel:
    """A plain Python model (no ML library): registered through the trusted 'python' format."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        return (np.asarray(data)[:, 0] > self.threshold).astype(int)


def transactions(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """A small labelled table with numeric, categorical, time and group columns (for training tests)."""
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3.0, 1.0, size=rows)
    channel = rng.choice(["web", "app", "pos"], size=rows, p=[0.5, 0.3, 0.2])
    hour = rng.integers(0, 24, size=rows)
    logit = -1.0 + 0.03 * amount + 1.5 * (channel == "web") - 0.05 * hour
    fraud = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "amount": amount,
            "channel": channel,
            "hour": hour,
            "customer": rng.integers(0, 60, size=rows),
            "day": pd.date_range("2026-01-01", periods=rows, freq="h"),
            "fraud": fraud,
        }
    )


def house_prices(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    size = rng.uniform(30, 200, size=rows)
    rooms = rng.integers(1, 6, size=rows)
    city = rng.choice(["north", "south"], size=rows)
    price = 1000 * size + 5000 * rooms + 20000 * (city == "north") + rng.normal(0, 5000, size=rows)
    return pd.DataFrame({"size": size, "rooms": rooms, "city": city, "price": price})
