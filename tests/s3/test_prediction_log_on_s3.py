"""The prediction log on a real S3-compatible server: segments written and read back, compaction, queries,
and batch scoring that logs its rows there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from shipyard import Registry
from shipyard.batch import BatchOptions, score_batch
from shipyard.config import load_settings
from shipyard.errors import Unavailable
from shipyard.predictions import LogWriter, PredictionLog, SegmentStore, compact
from tests.predictions.conftest import failing_halfway, record


def test_segments_written_to_s3_read_back_with_every_row(s3_home: Path) -> None:
    url = load_settings(s3_home).log_url
    writer = LogWriter(url, flush_seconds=60)
    records = [record(3, seed=1), record(2, seed=2), record(4, model="churn", version=2, seed=3)]
    for item in records:
        writer.submit(item)
        writer.flush()
    writer.close()
    log = PredictionLog(url)
    fraud, churn = log.scan("fraud"), log.scan("churn")
    assert fraud is not None and churn is not None
    expected = [pid for item in records[:2] for pid in item.prediction_ids]
    assert sorted(fraud["prediction_id"].to_pylist()) == sorted(expected)
    assert churn.num_rows == 4 and set(churn["version"].to_pylist()) == {2}
    assert log.find(records[2].prediction_ids[:1]).keys() == {records[2].prediction_ids[0]}
    assert SegmentStore(url).fs.find(SegmentStore(url).base)[0].startswith(f"{url[len('s3://') :]}/")


def test_compaction_on_s3_merges_an_hour_into_one_segment_and_keeps_every_row(s3_home: Path) -> None:
    url = load_settings(s3_home).log_url
    writer = LogWriter(url, flush_seconds=60)
    for seed in range(8):
        writer.submit(record(1, seed=seed))
        writer.flush()
    writer.close()
    before = PredictionLog(url).scan("fraud")
    assert before is not None and len(SegmentStore(url).segments("fraud", 1)) == 8
    result = compact(SegmentStore(url))
    assert (result.folders, result.merged_segments, result.rows) == (1, 8, 8)
    store = SegmentStore(url)
    hour = store.hours("fraud", 1)[0]
    assert len(store.fs.ls(store.hour_folder("fraud", 1, hour))) == 1
    after = PredictionLog(url).scan("fraud")
    assert after is not None
    assert sorted(after["prediction_id"].to_pylist()) == sorted(before["prediction_id"].to_pylist())


def test_sql_over_the_log_on_s3(s3_home: Path) -> None:
    url = load_settings(s3_home).log_url
    writer = LogWriter(url, flush_seconds=60)
    writer.submit(record(5, seed=4))
    writer.close()
    answer = PredictionLog(url).query("SELECT count(*) AS n FROM predictions WHERE model = 'fraud'")
    assert answer["n"].to_pylist() == [5]


def test_batch_scoring_logs_its_rows_to_the_log_on_s3(s3_home: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"amount": rng.normal(50, 10, 120), "age": rng.integers(18, 90, 120).astype(float)})
    model = LogisticRegression().fit(frame, (frame["amount"] > 50).astype(int))
    with Registry(home=s3_home) as registry:
        registry.register("fraud", model, reference=None)
        result = score_batch(registry, "fraud/1", frame, tmp_path / "out", BatchOptions(log_predictions=True))
        log = PredictionLog(registry.settings.log_url)
    assert result.scored == 120
    output = pd.concat(pd.read_parquet(part) for part in sorted((tmp_path / "out").glob("part-*.parquet")))
    found = log.find(output["prediction_id"].tolist())
    assert len(found) == 120
    logged = log.scan("fraud")
    assert logged is not None and logged.num_rows == 120


def test_a_compaction_on_s3_whose_sources_fail_halfway_leaves_the_hour_as_it_was(s3_home: Path) -> None:
    """The compacted object is streamed as its sources are read, and aborted when one fails: a half-written
    object, whose footer would name every source as replaced, never appears."""
    url = load_settings(s3_home).log_url
    store = failing_halfway(url)
    before = PredictionLog(url).scan("fraud")
    with pytest.raises(Unavailable):
        compact(store)
    fresh = SegmentStore(url)
    hour = fresh.hours("fraud", 1)[0]
    names = sorted(path.rsplit("/", 1)[-1] for path in fresh.fs.ls(fresh.hour_folder("fraud", 1, hour)))
    assert len(names) == 6 and not any(name.startswith("c-") or name.endswith(".tmp") for name in names)
    after = PredictionLog(url).scan("fraud")
    assert before is not None and after is not None
    assert sorted(after["prediction_id"].to_pylist()) == sorted(before["prediction_id"].to_pylist())
