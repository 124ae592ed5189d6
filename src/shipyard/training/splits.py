"""Hold-out and cross-validation splits, chosen by strategy, reproducible from the seed.

The hold-out is cut first and never seen by cross-validation or the final fit's model selection, so its
metrics are an honest estimate; gates later re-score champion and challenger on that same hold-out. For time
series the hold-out is the latest rows and folds only ever train on the past.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import (
    GroupKFold,
    GroupShuffleSplit,
    KFold,
    StratifiedKFold,
    TimeSeriesSplit,
    train_test_split,
)

from shipyard.errors import InvalidInput

Fold = tuple[np.ndarray, np.ndarray]


def holdout_split(
    frame: pd.DataFrame,
    target: str,
    *,
    fraction: float,
    strategy: str,
    seed: int,
    group_column: str | None,
    time_column: str | None,
    task: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the training rows and of the hold-out rows."""
    positions = np.arange(len(frame))
    if strategy == "timeseries":
        order = np.argsort(frame[time_column].to_numpy(), kind="stable") if time_column else positions
        cut = len(frame) - max(1, round(len(frame) * fraction))
        return np.sort(order[:cut]), np.sort(order[cut:])
    if strategy == "group" and group_column:
        splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        train, test = next(splitter.split(positions, groups=frame[group_column].to_numpy()))
        return np.sort(train), np.sort(test)
    stratify = None
    if task == "classification":
        counts = frame[target].value_counts()
        if counts.min() >= 2:
            stratify = frame[target].to_numpy()
    train, test = train_test_split(positions, test_size=fraction, random_state=seed, stratify=stratify)
    return np.sort(train), np.sort(test)


def cross_validation_folds(
    frame: pd.DataFrame,
    target: str,
    *,
    strategy: str,
    folds: int,
    seed: int,
    group_column: str | None,
    time_column: str | None,
) -> Iterator[Fold]:
    """(train positions, validation positions) for each fold of ``frame``."""
    positions = np.arange(len(frame))
    splitter: Any
    if strategy == "stratified":
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        yield from splitter.split(positions, frame[target].to_numpy())
    elif strategy == "group":
        groups = frame[group_column].to_numpy()
        if len(np.unique(groups)) < folds:
            raise InvalidInput(
                f"group column {group_column!r} has {len(np.unique(groups))} groups but cv.folds is {folds}"
            )
        yield from GroupKFold(n_splits=folds).split(positions, groups=groups)
    elif strategy == "timeseries":
        order = np.argsort(frame[time_column].to_numpy(), kind="stable") if time_column else positions
        for train, test in TimeSeriesSplit(n_splits=folds).split(order):
            yield order[train], order[test]
    else:
        yield from KFold(n_splits=folds, shuffle=True, random_state=seed).split(positions)
