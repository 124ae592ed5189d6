"""Monitoring windows over a real prediction log: drift flags exactly what moved, accuracy follows labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard import Registry
from shipyard.ids import new_request_id, prediction_id
from shipyard.monitoring import attach_labels
from shipyard.monitoring.windows import monitor_window
from shipyard.predictions import LogWriter, PredictionLog, PredictionRecord
from shipyard.registry import ModelVersion
from shipyard.training import train
from tests.models import transactions
from tests.serving.conftest import FEATURES, fraud_spec

HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ModelVersion]:
    home = tmp_path_factory.mktemp("windows") / "ws"
    with Registry(home=home) as registry:
        registry.datasets.add("tx", transactions(rows=800))
        version = train(fraud_spec(), registry=registry, progress=False).version
    return home, version


def _traffic(
    registry: Registry, version: ModelVersion, frame: pd.DataFrame, at: datetime, writer: LogWriter
) -> list[PredictionRecord]:
    """Serve ``frame`` in requests of 5 rows, as the server would log them, at ``at``."""
    model = registry.load_model(version.ref)
    records = []
    for start in range(0, len(frame), 5):
        rows = frame.iloc[start : start + 5].reset_index(drop=True)
        labels, probabilities = model.predict_with_proba(rows)
        request = new_request_id(at)
        record = PredictionRecord(
            request,
            [prediction_id(request, i) for i in range(len(rows))],
            at,
            version.model,
            version.version,
            "native",
            rows,
            np.asarray(labels),
            probabilities,
            0.002 + start * 1e-6,
        )
        writer.submit(record)
        records.append(record)
    return records


def test_the_drifted_window_flags_the_shifted_feature_and_the_accuracy_drop(
    trained: tuple[Path, ModelVersion],
) -> None:
    home, version = trained
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 5 * HOUR
    calm = transactions(rows=1500, seed=11)[FEATURES]
    shifted = transactions(rows=1500, seed=12)
    shifted_features = shifted[FEATURES].assign(amount=shifted["amount"] * 4)
    with Registry(home=home) as registry:
        log_url = registry.settings.log_url
        writer = LogWriter(log_url, flush_seconds=60)
        first = _traffic(registry, version, calm, start + timedelta(minutes=10), writer)
        second = _traffic(registry, version, shifted_features, start + HOUR + timedelta(minutes=10), writer)
        writer.close()
        log = PredictionLog(log_url)
        truth = transactions(rows=1500, seed=11)["fraud"].tolist()
        flipped = (1 - shifted["fraud"]).tolist()  # the world changed: yesterday's rule is now wrong
        pairs = [(pid, truth[i]) for i, pid in enumerate(p for r in first for p in r.prediction_ids)]
        pairs += [(pid, flipped[i]) for i, pid in enumerate(p for r in second for p in r.prediction_ids)][
            :600
        ]
        attach_labels(registry, log, pairs, settle_seconds=0)

        before = monitor_window(registry, log, version, start, start + HOUR)
        after = monitor_window(registry, log, version, start + HOUR, start + 2 * HOUR)
        empty = monitor_window(registry, log, version, start + 3 * HOUR, start + 4 * HOUR)

    assert (before.rows, before.requests, before.estimated_requests) == (1500, 300, 300.0)
    assert before.drift is not None and before.drift.drifted_columns == []
    assert after.drift is not None and after.drift.drifted_columns == ["amount"]
    assert after.output_drift is not None and before.output_drift is not None
    assert before.labelled_rows == 1500 and after.labelled_rows == 600
    assert after.accuracy["accuracy"] is not None and before.accuracy["accuracy"] is not None
    assert after.accuracy["accuracy"] < before.accuracy["accuracy"] - 0.3
    assert after.quality["amount"].out_of_range_share > before.quality["amount"].out_of_range_share  # type: ignore[operator]
    assert before.quality["channel"].unseen_share == 0.0 and before.quality["hour"].missing_rate == 0.0
    assert before.health["latency_p50_ms"] is not None and before.health["rows_per_request"] == 5.0
    assert before.health["request_rate"] == pytest.approx(300 / 3600)
    assert (
        empty.no_data
        and empty.drift is None
        and empty.accuracy == {}
        and empty.health["latency_p50_ms"] is None
    )
    assert empty.health["request_rate"] == 0.0
    assert after.to_dict()["drift"]["drifted_columns"] == ["amount"]
