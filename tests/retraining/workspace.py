"""A retraining workspace's pieces shared by the retraining tests: the training spec, its TOML file, and
tables stamped with times before a given moment."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SPEC: dict[str, Any] = {
    "model": "fraud",
    "seed": 3,
    "data": {"dataset": "history", "target": "fraud", "exclude": ["day", "customer", "ts"]},
    "estimator": {"class": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 300}},
    "cv": {"folds": 3},
    "evaluation": {"holdout": 0.25},
}


def stamped(frame: pd.DataFrame, end: datetime = NOW) -> pd.DataFrame:
    """``frame`` with a ``ts`` column spread over the ten days before ``end``."""
    seconds = np.linspace(0, 10 * 86400 - 1, len(frame))
    return frame.assign(ts=[end - timedelta(days=10) + timedelta(seconds=float(s)) for s in seconds])


def spec_toml(spec: dict[str, Any]) -> str:
    lines = [f"model = {json.dumps(spec['model'])}", f"seed = {spec['seed']}"]
    for table in ("data", "estimator", "cv", "evaluation"):
        lines.append(f"[{table}]")
        for key, value in spec[table].items():
            if isinstance(value, dict):
                inner = ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items())
                lines.append(f"{key} = {{ {inner} }}")
            else:
                lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"
