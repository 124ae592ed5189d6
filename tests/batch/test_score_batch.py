"""Batch scoring: validated like serving, rejects with file/row/column/reason, resumable, on all cores."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression

from shipyard import Registry
from shipyard.batch import (
    BatchInterrupted,
    BatchOptions,
    BatchPolicyFailed,
    batch_run,
    batch_runs,
    score_batch,
)
from shipyard.batch.manifest import MANIFEST, SUCCESS
from shipyard.errors import Conflict, NotFound
from shipyard.monitoring.windows import monitor_window
from shipyard.predictions import PredictionLog
from tests.batch.conftest import table
from tests.models import ThresholdModel
from tests.serving.conftest import FEATURES


def outputs(folder: Path) -> pd.DataFrame:
    parts = sorted(folder.glob("part-*.parquet"))
    return pd.concat([pd.read_parquet(part) for part in parts], ignore_index=True)


def test_files_are_scored_with_keys_predictions_probabilities_version_and_run_id(
    registry: Registry, tmp_path: Path
) -> None:
    data = tmp_path / "in"
    data.mkdir()
    first, second = table(250, 1), table(130, 2)
    first.to_parquet(data / "a.parquet")
    second.to_csv(data / "b.csv", index=False)
    result = score_batch(
        registry,
        "fraud@production",
        [str(data)],
        tmp_path / "out",
        BatchOptions(chunk_rows=100, key_columns=["id"]),
    )

    assert (result.rows, result.scored, result.rejected, result.chunks) == (380, 380, 0, 5)
    scored = outputs(tmp_path / "out")
    assert list(scored.columns) == ["id", "prediction", "proba_0", "proba_1", "model_version", "run_id"]
    assert scored["id"].tolist() == first["id"].tolist() + second["id"].tolist()  # input order, file by file
    model = registry.load_model("fraud/1")
    expected = model.predict_with_proba(pd.concat([first, second], ignore_index=True)[FEATURES])[1][:, 1]
    np.testing.assert_allclose(scored["proba_1"], expected)
    assert set(scored["model_version"]) == {"fraud/1"} and set(scored["run_id"]) == {result.run_id}
    assert (tmp_path / "out" / SUCCESS).is_file()
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert manifest["status"] == "succeeded" and len(manifest["inputs"]) == 2
    assert all(len(entry["sha256"]) == 64 for entry in manifest["inputs"])

    run = batch_run(registry, result.run_id)
    assert (run["status"], run["rows"], run["version"]) == ("succeeded", 380, 1)
    assert [f["sha256"] for f in run["inputs"]["files"]] == [m["sha256"] for m in manifest["inputs"]]
    assert batch_runs(registry, model="fraud")[0]["run_id"] == result.run_id


def test_bad_rows_go_to_the_reject_file_with_file_row_column_and_reason(
    registry: Registry, tmp_path: Path
) -> None:
    frame = table(40, 3).astype({"amount": object, "hour": object})
    frame.loc[5, "amount"] = "lots"
    frame.loc[7, "hour"] = None
    frame.loc[9, "channel"] = None
    frame.to_csv(tmp_path / "in.csv", index=False)
    result = score_batch(
        registry, "fraud/1", [str(tmp_path / "in.csv")], tmp_path / "out", BatchOptions(key_columns=["id"])
    )

    assert (result.rows, result.scored, result.rejected) == (40, 37, 3)
    rejects = pd.read_parquet(next((tmp_path / "out" / "rejects").glob("*.parquet")))
    assert rejects["_row"].tolist() == [5, 7, 9]
    assert rejects["_column"].tolist() == ["amount", "hour", "channel"]
    assert "lots" in rejects["_reason"][0] and rejects["amount"][0] == "lots"
    assert set(rejects["_file"]) == {str((tmp_path / "in.csv").resolve())}
    assert 5 not in outputs(tmp_path / "out")["id"].tolist() and len(outputs(tmp_path / "out")) == 37
    assert result.examples[0][1:3] == (5, "amount")


def test_missing_columns_an_empty_file_and_a_corrupt_file_are_reported_and_the_rest_scored(
    registry: Registry, tmp_path: Path
) -> None:
    data = tmp_path / "in"
    data.mkdir()
    table(50, 4).to_parquet(data / "1-good.parquet")
    table(20, 5).drop(columns=["hour"]).to_parquet(data / "2-no-hour.parquet")
    (data / "3-empty.csv").write_text("")
    good = (data / "1-good.parquet").read_bytes()
    (data / "4-broken.parquet").write_bytes(good[: len(good) // 2])
    with pytest.raises(BatchPolicyFailed, match=r"1 input file\(s\) unreadable .*4-broken.parquet"):
        score_batch(registry, "fraud/1", [str(data)], tmp_path / "strict")
    assert not (tmp_path / "strict" / SUCCESS).exists()

    result = score_batch(
        registry, "fraud/1", [str(data)], tmp_path / "out", BatchOptions(skip_unreadable=True)
    )
    assert (result.rows, result.scored, result.rejected) == (70, 50, 20)
    assert [Path(p.path).name for p in result.unreadable] == ["4-broken.parquet"]
    assert [Path(p).name for p in result.empty_files] == ["3-empty.csv"]
    rejects = pd.read_parquet(next((tmp_path / "out" / "rejects").glob("*.parquet")))
    assert set(rejects["_column"]) == {"hour"} and "missing" in rejects["_reason"][0]
    assert len(outputs(tmp_path / "out")) == 50


def test_a_reject_share_policy_fails_the_job_but_keeps_what_was_scored(
    registry: Registry, tmp_path: Path
) -> None:
    frame = table(20, 6).astype({"amount": object})
    frame.loc[:4, "amount"] = "x"  # 5 of 20 rows
    frame.to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(
        BatchPolicyFailed, match=r"5 of 20 rows rejected \(25.00%\), more than the allowed 10.00%"
    ):
        score_batch(
            registry,
            "fraud/1",
            [str(tmp_path / "in.csv")],
            tmp_path / "out",
            BatchOptions(max_reject_share=0.1),
        )
    assert len(outputs(tmp_path / "out")) == 15 and not (tmp_path / "out" / SUCCESS).exists()
    assert batch_runs(registry)[0]["status"] == "failed"
    assert "more than the allowed" in batch_runs(registry)[0]["error"]


class FlakyModel:
    """Raises on any batch holding an amount above 1,000 (a model with a bug for some inputs)."""

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        if (data["amount"] > 1000).any():
            raise ValueError("amount out of the supported range")
        return (data["amount"] > 50).astype(int).to_numpy()


def test_rows_the_model_raises_on_are_found_and_rejected_and_the_rest_scored(
    registry: Registry, tmp_path: Path
) -> None:
    registry.register("flaky", FlakyModel())
    frame = table(64, 7)
    frame.loc[[3, 40], "amount"] = 5000.0
    frame.to_parquet(tmp_path / "in.parquet")
    result = score_batch(
        registry, "flaky/1", [str(tmp_path / "in.parquet")], tmp_path / "out", BatchOptions(trust=True)
    )
    assert (result.scored, result.rejected) == (62, 2)
    rejects = pd.read_parquet(next((tmp_path / "out" / "rejects").glob("*.parquet")))
    assert rejects["_row"].tolist() == [3, 40]
    assert rejects["_reason"][0] == "-: the model raised ValueError: amount out of the supported range"
    assert outputs(tmp_path / "out")["id"].tolist() == [
        i for i in frame["id"] if i not in set(frame["id"][[3, 40]])
    ]


def test_a_table_from_python_is_scored_too(registry: Registry, tmp_path: Path) -> None:
    frame = table(30, 8)
    result = score_batch(registry, "fraud/1", frame, tmp_path / "out", BatchOptions(format="csv"))
    scored = pd.read_csv(next((tmp_path / "out").glob("part-*.csv")))
    assert result.scored == 30 and scored["id"].tolist() == frame["id"].tolist()
    assert list(scored.columns)[:2] == ["customer", "id"]  # every non-feature column is a key by default


KILLABLE = """
import sys
from shipyard import Registry
from shipyard.batch import BatchOptions, score_batch

with Registry(home=sys.argv[1]) as registry:
    score_batch(registry, "fraud/1", [sys.argv[2]], sys.argv[3],
                BatchOptions(run_id="nightly", chunk_rows=500, workers=2, key_columns=["id"]))
"""


@pytest.mark.slow
def test_a_killed_job_resumes_with_its_run_id_and_writes_exactly_what_an_uninterrupted_run_does(
    trained: Path, tmp_path: Path
) -> None:
    frames = [table(20_000, seed) for seed in (10, 11, 12)]
    for index, frame in enumerate(frames):
        frame.to_parquet(tmp_path / f"in-{index}.parquet", row_group_size=1000)
    inputs = str(tmp_path / "in-*.parquet")
    nightly = BatchOptions(run_id="nightly", chunk_rows=500, workers=2, key_columns=["id"])
    with Registry(home=trained) as registry:
        whole = score_batch(registry, "fraud/1", [inputs], tmp_path / "whole", nightly)

    job = subprocess.Popen([sys.executable, "-c", KILLABLE, str(trained), inputs, str(tmp_path / "resumed")])
    manifest = tmp_path / "resumed" / MANIFEST
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill -9 once some, not all, chunks are done
        if manifest.is_file() and 10 <= len(json.loads(manifest.read_text())["chunks"]) < 100:
            break
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait()
    done_before = len(json.loads(manifest.read_text())["chunks"])
    assert 0 < done_before < 120 and not (tmp_path / "resumed" / SUCCESS).exists()

    with Registry(home=trained) as registry:
        with pytest.raises(
            Conflict, match="holds the unfinished run nightly: pass --run-id nightly to resume"
        ):
            score_batch(registry, "fraud/1", [inputs], tmp_path / "resumed")
        resumed = score_batch(registry, "fraud/1", [inputs], tmp_path / "resumed", nightly)
        assert resumed.resumed_chunks >= done_before and resumed.rows == whole.rows == 60_000
        again = score_batch(registry, "fraud/1", [inputs], tmp_path / "resumed", nightly)
        assert again.status == "succeeded" and again.resumed_chunks == 120  # complete: nothing left to do
    names = sorted(path.name for path in (tmp_path / "whole").glob("part-*"))
    assert names == sorted(path.name for path in (tmp_path / "resumed").glob("part-*"))
    for name in names:
        assert pq.read_table(tmp_path / "whole" / name).equals(pq.read_table(tmp_path / "resumed" / name))
    assert not list((tmp_path / "resumed").glob(".*.tmp"))  # no half-written file left visible


def test_a_resume_with_other_inputs_or_another_version_is_refused(registry: Registry, tmp_path: Path) -> None:
    table(30, 13).to_parquet(tmp_path / "in.parquet")
    score_batch(
        registry, "fraud/1", [str(tmp_path / "in.parquet")], tmp_path / "out", BatchOptions(run_id="r1")
    )
    table(31, 13).to_parquet(tmp_path / "in.parquet")  # the input changed since
    with pytest.raises(Conflict, match="the input files or their contents"):
        score_batch(
            registry, "fraud/1", [str(tmp_path / "in.parquet")], tmp_path / "out", BatchOptions(run_id="r1")
        )
    with pytest.raises(Conflict, match="holds the run r1"):
        score_batch(
            registry, "fraud/1", [str(tmp_path / "in.parquet")], tmp_path / "out", BatchOptions(run_id="r2")
        )
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(Conflict, match="not empty and holds no batch run"):
        score_batch(registry, "fraud/1", [str(tmp_path / "in.parquet")], tmp_path / "other")
    with pytest.raises(NotFound, match="no input file matches"):
        score_batch(registry, "fraud/1", [str(tmp_path / "nope-*.parquet")], tmp_path / "x")


def test_logged_batch_predictions_reach_the_prediction_log_and_the_monitors(
    registry: Registry, tmp_path: Path
) -> None:
    frame = table(25, 14)
    frame.to_parquet(tmp_path / "in.parquet")
    result = score_batch(
        registry,
        "fraud/1",
        [str(tmp_path / "in.parquet")],
        tmp_path / "out",
        BatchOptions(log_predictions=True),
    )
    scored = outputs(tmp_path / "out")
    log = PredictionLog(registry.settings.log_url)
    found = log.find(scored["prediction_id"].tolist())
    assert len(found) == 25 and {row["prediction"] for row in found.values()} <= {0, 1}
    logged = log.query("SELECT protocol, count(*) AS n FROM predictions WHERE protocol = 'batch' GROUP BY 1")
    assert logged.to_pylist() == [{"protocol": "batch", "n": 25}]
    # Monitored like served traffic: the window of the run's start holds its rows, with drift and quality.
    started = datetime.fromisoformat(json.loads((tmp_path / "out" / MANIFEST).read_text())["created_at"])
    hour = started.replace(minute=0, second=0, microsecond=0)
    window = monitor_window(registry, log, registry.resolve("fraud/1"), hour, hour + timedelta(hours=1))
    assert (
        window.rows == 25
        and window.drift is not None
        and set(window.quality) == {"amount", "channel", "hour"}
    )
    assert result.scored == 25


@pytest.mark.slow
def test_a_python_model_is_scored_by_worker_processes_each_loading_it_once(
    registry: Registry, tmp_path: Path
) -> None:
    registry.register("threshold", ThresholdModel(40.0))
    frame = table(60_000, 15)
    frame.to_parquet(tmp_path / "in.parquet", row_group_size=10_000)
    result = score_batch(
        registry, "threshold/1", [str(tmp_path / "in.parquet")], tmp_path / "out",
        BatchOptions(trust=True, workers=2, chunk_rows=10_000, key_columns=["id"]),
    )  # fmt: skip
    scored = outputs(tmp_path / "out")
    assert result.scored == 60_000 and scored["id"].tolist() == frame["id"].tolist()
    assert scored["prediction"].tolist() == (frame["amount"] > 40.0).astype(int).tolist()


def test_a_full_disk_stops_the_run_with_a_clear_error_and_it_resumes_to_the_same_output(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table(5_000, 16).to_parquet(tmp_path / "in.parquet", row_group_size=500)
    source = [str(tmp_path / "in.parquet")]
    options = BatchOptions(run_id="full", chunk_rows=500, workers=1, key_columns=["id"])
    clean = score_batch(registry, "fraud/1", source, tmp_path / "clean", options)

    import shipyard.batch.scoring as scoring

    real_write, calls = scoring.pq.write_table, []

    def filling_up(table: pa.Table, where: object, **kwargs: object) -> None:
        calls.append(where)
        if len(calls) > 4:  # the disk fills up after four part files
            Path(str(where)).write_bytes(
                b"PAR1 half a file"
            )  # a half-written temporary, as a full disk leaves
            raise OSError(28, "No space left on device")
        real_write(table, where, **kwargs)

    monkeypatch.setattr(scoring.pq, "write_table", filling_up)
    with pytest.raises(BatchInterrupted, match="No space left on device .* resume with --run-id full"):
        score_batch(registry, "fraud/1", source, tmp_path / "out", options)
    assert (
        not (tmp_path / "out" / SUCCESS).exists() and batch_run(registry, "full")["status"] == "interrupted"
    )
    assert len(json.loads((tmp_path / "out" / MANIFEST).read_text())["chunks"]) == 4
    monkeypatch.setattr(scoring.pq, "write_table", real_write)

    resumed = score_batch(registry, "fraud/1", source, tmp_path / "out", options)
    assert resumed.resumed_chunks == 4 and resumed.scored == clean.scored == 5_000
    for part in sorted((tmp_path / "clean").glob("part-*.parquet")):
        assert pq.read_table(part).equals(pq.read_table(tmp_path / "out" / part.name))
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_a_resumed_run_keeps_the_version_it_started_with_when_the_alias_moved(
    trained: Path, tmp_path: Path
) -> None:
    table(30, 17).to_parquet(tmp_path / "in.parquet")
    source = [str(tmp_path / "in.parquet")]
    with Registry(home=trained) as registry:
        started = score_batch(
            registry, "fraud@production", source, tmp_path / "out", BatchOptions(run_id="pin")
        )
        other = table(100, 18)
        newer = registry.register(
            "fraud", LogisticRegression().fit(other[["amount", "hour"]], other["hour"] > 12)
        )
        registry.set_alias("fraud", "production", newer.version)
        try:
            again = score_batch(
                registry, "fraud@production", source, tmp_path / "out", BatchOptions(run_id="pin")
            )
        finally:
            registry.set_alias("fraud", "production", 1)
    assert (started.version, again.version, again.status) == (1, 1, "succeeded")
