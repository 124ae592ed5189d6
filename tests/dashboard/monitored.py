"""Stored monitoring windows made the way production makes them: a trained model, traffic written to a real
prediction log, labels attached, and ``run_monitors`` storing each window in a SQLite workspace.

Three hourly windows of version 1: a calm hour (with two server errors, and CPU and memory samples), an
hour where amounts are 4× larger and the labels flipped (drift, accuracy drops), and an hour without
traffic. Version 2 answers some traffic in the second hour only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from shipyard import Registry
from shipyard.ids import new_request_id
from shipyard.monitoring import attach_labels
from shipyard.monitoring.series import StoredWindow, run_monitors, stored_windows
from shipyard.monitoring.windows import WindowResult
from shipyard.predictions import LogWriter, PredictionLog, PredictionRecord
from shipyard.predictions.events import FailedRequest, UsageSample
from shipyard.registry import ModelVersion
from shipyard.training import train
from tests.models import transactions
from tests.served import served_record
from tests.serving.conftest import FEATURES, fraud_spec

HOUR = timedelta(hours=1)
START = datetime(2026, 3, 2, 10, tzinfo=UTC)


@dataclass(frozen=True)
class Monitored:
    home: Path
    first: ModelVersion
    second: ModelVersion
    #: Version 1's three windows, oldest first.
    windows: list[StoredWindow]
    #: Both versions' windows.
    both: list[StoredWindow]
    #: The drifting hour as ``monitor_window`` computed it (with its profile, which is not stored).
    drifted: WindowResult


def monitor_traffic(home: Path) -> Monitored:
    with Registry(home=home) as registry:
        registry.datasets.add("tx", transactions(rows=800))
        first = train(fraud_spec(), registry=registry, progress=False).version
        second = train(fraud_spec(C=0.5), registry=registry, progress=False).version
        writer = LogWriter(registry.settings.log_url, flush_seconds=60)
        calm, shifted = transactions(rows=1500, seed=11), transactions(rows=1500, seed=12)
        at = START + timedelta(minutes=10)
        early = _traffic(registry, first, calm[FEATURES], at, writer)
        for status, error in ((503, "overloaded"), (500, "model_error")):
            request = new_request_id(at)
            writer.submit_failure(
                FailedRequest(request, at, "fraud", 1, "native", status, error, 1, 0.003, ())
            )
        for second_, cpu, rss in ((0, 10.0, 200_000_000), (600, 40.0, 300_000_000)):
            sample = UsageSample(START + timedelta(seconds=second_), "host:1:0", cpu, rss, (("fraud", 1),))
            writer.submit_usage(sample)
        moved = shifted[FEATURES].assign(amount=shifted["amount"] * 4)
        late = _traffic(registry, first, moved, START + HOUR + timedelta(minutes=10), writer)
        _traffic(registry, second, moved.iloc[:200], START + HOUR + timedelta(minutes=20), writer)
        writer.close()
        log = PredictionLog(registry.settings.log_url)
        truth, flipped = calm["fraud"].tolist(), (1 - shifted["fraud"]).tolist()
        pairs = [(pid, truth[i]) for i, pid in enumerate(p for r in early for p in r.prediction_ids)]
        pairs += [(pid, flipped[i]) for i, pid in enumerate(p for r in late for p in r.prediction_ids)][:600]
        attach_labels(registry, log, pairs, settle_seconds=0)
        results = run_monitors(registry, log, [first, second], START, START + 3 * HOUR, HOUR)
        return Monitored(
            home=home,
            first=first,
            second=second,
            windows=stored_windows(registry, "fraud", HOUR, version=1),
            both=stored_windows(registry, "fraud", HOUR),
            drifted=results[1],
        )


def _traffic(
    registry: Registry, version: ModelVersion, frame: pd.DataFrame, at: datetime, writer: LogWriter
) -> list[PredictionRecord]:
    """Serve ``frame`` in requests of 5 rows, logged as the server logs them, at ``at``."""
    model = registry.load_model(version.ref)
    records = []
    for start in range(0, len(frame), 5):
        rows = frame.iloc[start : start + 5].reset_index(drop=True)
        record = served_record(model, version, rows, at, latency=0.002 + start * 1e-6)
        writer.submit(record)
        records.append(record)
    return records
