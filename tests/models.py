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
