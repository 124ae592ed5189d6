"""``shipyard logs`` and ``shipyard feedback`` from the command line, over a real log and registry."""

from __future__ import annotations

import json
import os
import pty
import queue
import select
import signal
import subprocess
import sys
import threading
import time
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
    assert main(["logs", "query", "SELECT count(*) AS n FROM predictions", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 4}]
    assert (
        main(
            [
                "logs",
                "query",
                "SELECT model, inputs.channel AS channel FROM predictions LIMIT 1",
                "--format",
                "csv",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines()[0] == "model,channel"
    assert main(["logs", "query", "SELECT version FROM predictions LIMIT 1"]) == 0
    assert "version" in capsys.readouterr().out
    assert main(["logs", "query", "SELECT nope FROM predictions"]) == 2
    assert "the query failed" in capsys.readouterr().err
    assert main(["logs", "query", "SELECT 1", "--format", "xml"]) == 2


def test_tail_shows_the_newest_rows(
    logged: list[PredictionRecord], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["logs", "tail", "-n", "2", "--json"]) == 0
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
    assert main(["logs", "query", "SELECT count(*) AS n FROM feedback", "--format", "json"]) == 0
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
    assert main(["logs", "query", "SELECT count(*) AS n FROM predictions", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 3}]


def test_json_asks_for_one_format_only(
    logged: list[PredictionRecord], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["logs", "query", "SELECT 1 AS one", "--json", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"one": 1}]
    assert main(["logs", "query", "SELECT 1", "--json", "--format", "csv"]) == 2
    assert "two formats" in capsys.readouterr().err


def test_tail_follow_prints_rows_as_a_writer_logs_them(
    logged: list[PredictionRecord], tmp_path: Path
) -> None:
    """``logs tail -f`` is ``--follow``: a real writer in another thread logs, the command prints each new row
    as one JSON line, until it is interrupted (Ctrl-C)."""
    with Registry(home=tmp_path / "ws") as registry:
        url = registry.settings.log_url
    env = {**os.environ, "SHIPYARD_HOME": str(tmp_path / "ws"), "SHIPYARD_LOG_FLUSH_SECONDS": "0.2"}
    command = [sys.executable, "-m", "shipyard", "logs", "tail", "-n", "1", "-f", "--json"]
    follower = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in follower.stdout or ()], daemon=True)
    reader.start()
    try:
        first = json.loads(lines.get(timeout=60))
        assert first["prediction_id"] == logged[1].prediction_ids[0]  # the newest row, then the new ones
        fresh = [record(2, seed=10), record(1, seed=11)]

        def write() -> None:
            writer = LogWriter(url, flush_seconds=60)
            for item in fresh:
                writer.submit(item)
                writer.flush()
                time.sleep(0.3)
            writer.close()

        threading.Thread(target=write).start()
        expected = [pid for item in fresh for pid in item.prediction_ids]
        printed = [json.loads(lines.get(timeout=30))["prediction_id"] for _ in expected]
        assert printed == expected
    finally:
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=30) == 130  # as Ctrl-C ends any command


def test_feedback_add_shows_progress_only_on_a_terminal(
    logged: list[PredictionRecord], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"prediction_id": logged[0].prediction_ids, "label": [1, 0]}).to_csv(labels, index=False)
    assert main(["feedback", "add", str(labels)]) == 0
    captured = capsys.readouterr()
    assert "2 attached" in captured.out and "storing" not in captured.err  # stderr is not a terminal here

    env = {**os.environ, "SHIPYARD_HOME": str(tmp_path / "ws")}
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "shipyard", "feedback", "add", str(labels)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            timeout=120,
            check=True,
        )
        os.close(terminal)
        shown = b""
        while select.select([controller], [], [], 1)[0]:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal's other end is closed: all was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
    assert "2 duplicate" in done.stdout
    text = shown.decode(errors="replace")
    assert "reading the prediction log" in text and "storing 2 labels" in text
