"""The demo's data: generated card transactions, and predictions handed to the log as the server hands them.

Every chapter of the demo draws its rows and logs its requests here, so the chapters share one world (the
same features, the same fraud pattern) without importing each other.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shipyard.registry import ModelVersion, Registry

SEED = 7
FEATURES = ["amount", "hour", "channel", "account_age_days"]


def make_transactions(rows: int = 6000, seed: int = SEED) -> pd.DataFrame:
    """Synthetic card transactions whose fraud label depends non-linearly on amount, hour and channel, and
    falls with account age (so older accounts must never look riskier)."""
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(mean=3.5, sigma=1.0, size=rows)
    hour = rng.integers(0, 24, size=rows)
    channel = rng.choice(["web", "app", "pos"], size=rows, p=[0.4, 0.35, 0.25])
    age_days = rng.integers(1, 3650, size=rows)
    night = (hour < 6) | (hour > 22)
    logit = -3.0 + 0.9 * np.log1p(amount) * night + 1.2 * (channel == "web") - 0.0006 * age_days
    logit += 1.2 * np.sin(amount / 40.0)
    fraud = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "amount": amount,
            "hour": hour,
            "channel": channel,
            "account_age_days": age_days,
            "fraud": fraud.astype(int),
        }
    )


def make_drifted(rows: int, seed: int) -> pd.DataFrame:
    """Transactions after the world changed: amounts triple, web takes four payments in five, and the fraud
    pattern is new: large app and pos payments, whatever the hour."""
    drifted = make_transactions(rows, seed=seed)
    drifted["amount"] *= 3
    drifted["channel"] = np.where(np.arange(len(drifted)) % 5 == 0, drifted["channel"], "web")
    drifted["fraud"] = ((drifted["channel"] != "web") & (drifted["amount"] > 150)).astype(int)
    return drifted


def make_changed(rows: int, seed: int) -> pd.DataFrame:
    """The world as it changes for good in the retraining chapter: the drifted amounts and channels, and
    fraud is large payments in the app or at a till whatever the hour, and on the web at night (3% of the
    labels wrong, as in life)."""
    changed = make_drifted(rows, seed)
    risky = (changed["amount"] > 150) & ((changed["channel"] != "web") | (changed["hour"] < 6))
    flipped = np.random.default_rng(seed + 1).random(rows) < 0.03
    changed["fraud"] = (risky ^ flipped).astype(int)
    return changed


def log_request(
    writer: Any,
    version: ModelVersion,
    rows: pd.DataFrame,
    labels: Any,
    probabilities: Any,
    at: Any,
    latency_seconds: float,
) -> list[str]:
    """Hand one answered request to the prediction log's writer, as the server does; its prediction ids."""
    from shipyard.ids import new_request_id, prediction_id
    from shipyard.predictions import PredictionRecord

    request = new_request_id(at)
    record = PredictionRecord(
        request_id=request,
        prediction_ids=[prediction_id(request, row) for row in range(len(rows))],
        at=at,
        model=version.model,
        version=version.version,
        protocol="native",
        inputs=rows,
        predictions=np.asarray(labels),
        probabilities=probabilities,
        latency_seconds=latency_seconds,
    )
    writer.submit(record)
    return record.prediction_ids


def replay(registry: Registry, reference: str, frame: pd.DataFrame, at: Any, writer: Any) -> list[str]:
    """Predict ``frame`` in requests of 10 rows as the server would, logging each at ``at``; the ids."""
    version = registry.resolve(reference)
    model = registry.load_model(reference)
    ids: list[str] = []
    for start in range(0, len(frame), 10):
        rows = frame.iloc[start : start + 10][FEATURES].reset_index(drop=True)
        labels, probabilities = model.predict_with_proba(rows)
        ids += log_request(writer, version, rows, labels, probabilities, at, 0.002)
    return ids
