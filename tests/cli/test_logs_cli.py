"""``shipyard logs`` and ``shipyard feedback`` from the command line, over a real log and registry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from shipyard import Registry
from shipyard.cli import main
from shipyard.predictions import LogWriter, PredictionRecord
from tests.predictions.conftest import record


@pytest.fixture
def logged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[PredictionRecord]:
    home = tmp_path / "ws"
    monkeypatch.setenv("SHIPYARD_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "200")
    features = np.random.default_rng(0).normal(size=(40, 3))
    with Registry(home=home) as registry:
        registry.register("fraud", LogisticRegression().fit(features, np.arange(40) % 2))
        url = registry.settings.log_url
    writer = LogWriter(url, flush_seconds=60)
    records = [
        record(2, seed=1),
        record(1, seed=2),
        record(1, seed=3, at=datetime.now(UTC) - timedelta(days=40)),
    ]
    for item in records:
        writer.submit(item)
        writer.flush()
    writer.close()
    return records


def test_query_prints_sql_results_as_json_csv_or_a_table(
    logged: list[PredictionRecord], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["logs", "query", "SELECT count(*) AS n FROM predictions", "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 4}]
    assert (
        main(
            ["logs", "query", "SELECT model, inputs.channel AS channel FROM predictions LIMIT 1", "-f", "csv"]
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines()[0] == "model,channel"
    assert main(["logs", "query", "SELECT version FROM predictions LIMIT 1"]) == 0
    assert "version" in capsys.readouterr().out
    assert main(["logs", "query", "SELECT nope FROM predictions"]) == 2
    assert "the query failed" in capsys.readouterr().err
    assert main(["logs", "query", "SELECT 1", "-f", "xml"]) == 2


def test_tail_shows_the_newest_rows(
    logged: list[PredictionRecord], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["logs", "tail", "-n", "2", "-f", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["prediction_id"] for row in rows] == [
        logged[0].prediction_ids[1],
        logged[1].prediction_ids[0],
    ]


def test_feedback_add_reads_a_file_and_reports_each_problem_row(
    logged: list[PredictionRecord], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = tmp_path / "labels.csv"
    pd.DataFrame(
        {"pid": [logged[0].prediction_ids[0], logged[1].prediction_ids[0], "ghost"], "truth": [1, 7, 0]}
    ).to_csv(labels, index=False)
    assert main(["feedback", "add", str(labels)]) == 2
    assert "no column 'prediction_id', 'label'" in capsys.readouterr().err
    assert (
        main(["feedback", "add", str(labels), "--id-column", "pid", "--label-column", "truth", "--json"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert (report["attached"], report["invalid"], report["unknown"]) == (1, 1, 1)
    assert main(["feedback", "add", str(labels), "--id-column", "pid", "--label-column", "truth"]) == 0
    out = capsys.readouterr().out
    assert "1 duplicate" in out and "ghost" in out
    assert main(["logs", "query", "SELECT count(*) AS n FROM feedback", "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 1}]


def test_compact_and_prune_keep_the_log_small(
    logged: list[PredictionRecord], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["logs", "compact", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["merged_segments"] == 2
    assert main(["logs", "prune", "--older-than-days", "0"]) == 2
    assert "keeps everything" in capsys.readouterr().err
    assert main(["logs", "prune", "--json"]) == 0  # log_retention_days: 30 by default
    assert json.loads(capsys.readouterr().out)["removed_hours"] == 1
    assert main(["logs", "query", "SELECT count(*) AS n FROM predictions", "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 3}]
