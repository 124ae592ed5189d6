"""A retraining workspace's pieces shared by the retraining tests: the training spec, its TOML file, and
tables stamped with times before a given moment."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard import Registry
from shipyard.training.trainer import train
from tests.models import transactions

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


def champion_workspace(home: Path, policy: str, *, now: datetime) -> Path:
    """A workspace at ``home``: fraud/1 at fraud@production, trained on labels without signal (so a
    challenger trained on ``fresh`` beats it), the data ``history`` and ``fresh`` stamped up to ``now``,
    ``spec.toml``, and ``policy`` as its shipyard.toml."""
    with Registry(home=home) as registry:
        history = transactions(seed=0)
        history["fraud"] = np.random.default_rng(9).permutation(history["fraud"].to_numpy())
        registry.datasets.add("history", stamped(history, now))
        registry.datasets.add("fresh", stamped(transactions(seed=1), now))
        result = train(SPEC, registry=registry, progress=False)
        assert result.version is not None
        registry.set_alias("fraud", "production", result.version.version)
    (home / "spec.toml").write_text(spec_toml(SPEC), encoding="utf-8")
    (home / "shipyard.toml").write_text(policy, encoding="utf-8")
    return home
