"""Monitoring windows stored and read back on both metadata backends (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from sklearn.linear_model import LogisticRegression

from shipyard import Registry
from shipyard.monitoring.series import save_window, series, stored_windows
from shipyard.monitoring.windows import FeatureQuality, WindowResult


def test_a_window_round_trips_and_saving_it_again_replaces_it(registry: Registry) -> None:
    features = np.random.default_rng(0).normal(size=(30, 2))
    registry.register("fraud", LogisticRegression().fit(features, np.arange(30) % 2))
    start = datetime(2026, 11, 25, 10, tzinfo=UTC)
    result = WindowResult("fraud", 1, start, start + timedelta(hours=1), rows=10, requests=4)
    result.quality = {"amount": FeatureQuality(0.1, 0.0, None, None)}
    result.accuracy = {"accuracy": 0.8, "roc_auc": None}
    result.health = {"latency_p95_ms": 3.5}
    save_window(registry, result, timedelta(hours=1))
    result.rows = 12
    save_window(registry, result, timedelta(hours=1))
    stored = stored_windows(registry, "fraud", timedelta(hours=1), version=1)
    assert len(stored) == 1 and stored[0].report["rows"] == 12 and stored[0].start == start
    assert series(registry, "fraud", "rows", timedelta(hours=1)) == [(start, 1, 12.0)]
    assert series(registry, "fraud", "quality.missing_rate", timedelta(hours=1), column="amount")[0][2] == 0.1
    assert series(registry, "fraud", "accuracy.roc_auc", timedelta(hours=1))[0][2] is None
    assert stored_windows(registry, "nope", timedelta(hours=1)) == []
