"""Production data as a dataset version: logged inputs joined with their latest labels, with lineage."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from shipyard import Registry
from shipyard.cli import main
from shipyard.datasets import dataset_from_log
from shipyard.errors import InvalidInput, NotFound
from shipyard.monitoring import attach_labels
from shipyard.predictions import LogWriter, PredictionLog, PredictionRecord
from shipyard.registry import VersionMetadata
from shipyard.store.feedback import FeedbackRepository, NewLabel
from tests.predictions.conftest import record

START = datetime(2026, 11, 30, 10, tzinfo=UTC)
END = START + timedelta(hours=2)


def _log(registry: Registry, *records: PredictionRecord) -> PredictionLog:
    writer = LogWriter(registry.settings.log_url, flush_seconds=60)
    for item in records:
        writer.submit(item)
    writer.close()
    return PredictionLog(registry.settings.log_url)


def _register(registry: Registry, name: str = "fraud", **metadata: object) -> None:
    features = np.random.default_rng(0).normal(size=(40, 3))
    model = LogisticRegression().fit(features, np.arange(40) % 2)
    registry.register(name, model, metadata=VersionMetadata(**metadata))  # type: ignore[arg-type]


@pytest.fixture
def logged(registry: Registry) -> tuple[PredictionLog, PredictionRecord, PredictionRecord]:
    """fraud/1 answered 3 rows at 10:05 and 2 at 11:20 (labelled in part), a shadow copy of the first
    request, and 2 rows after the window, all of them labelled."""
    _register(registry)
    first = record(3, at=START + timedelta(minutes=5), seed=1)
    second = record(2, at=START + timedelta(hours=1, minutes=20), seed=2)
    shadow = replace(
        first,
        version=2,
        arm="shadow",
        prediction_ids=[f"{identifier}-shadow" for identifier in first.prediction_ids],
    )
    later = record(2, at=END + timedelta(minutes=1), seed=3)
    log = _log(registry, first, second, shadow, later)
    labels = [
        (first.prediction_ids[0], 1),
        (first.prediction_ids[1], 1),
        (second.prediction_ids[0], 0),
        *[(identifier, 1) for identifier in later.prediction_ids],
    ]
    attach_labels(registry, log, labels, settle_seconds=0)
    attach_labels(registry, log, [(first.prediction_ids[0], 0)], settle_seconds=0)  # a correction
    return log, first, second


def test_labelled_rows_are_the_logged_inputs_with_their_latest_label(
    registry: Registry, logged: tuple[PredictionLog, PredictionRecord, PredictionRecord]
) -> None:
    log, first, second = logged
    version = dataset_from_log(registry, log, "fraud", start=START, end=END)
    assert (version.ref, version.rows, version.source) == ("fraud-labelled/1", 3, "prediction-log")
    rows = registry.datasets.load(version)
    assert list(rows.columns) == [
        "amount",
        "channel",
        "hour",
        "prediction_id",
        "timestamp",
        "version",
        "_prediction",
        "label",
    ]
    assert rows["prediction_id"].tolist() == [*first.prediction_ids[:2], second.prediction_ids[0]]
    assert rows["label"].tolist() == [0, 1, 0]  # the correction won
    assert rows["label"].dtype == np.int64  # integer labels stay integers once the unlabelled rows are out
    assert rows["amount"].tolist() == [*first.inputs["amount"][:2], second.inputs["amount"][0]]
    assert rows["channel"].tolist() == [*first.inputs["channel"][:2], second.inputs["channel"][0]]
    assert rows["_prediction"].tolist() == [*first.predictions[:2], second.predictions[0]]
    assert rows["version"].tolist() == [1, 1, 1]
    assert not rows["prediction_id"].str.endswith("-shadow").any()
    assert rows["timestamp"].iloc[0] == pd.Timestamp(first.at).floor("ms")


def test_lineage_names_the_window_segments_labels_and_versions(
    registry: Registry, logged: tuple[PredictionLog, PredictionRecord, PredictionRecord]
) -> None:
    log, _, _ = logged
    lineage = dataset_from_log(registry, log, "fraud", start=START, end=END).notes["lineage"]
    assert lineage["source"] == "prediction-log" and lineage["model"] == "fraud"
    assert lineage["window"] == {"start": START.isoformat(), "end": END.isoformat()}
    assert lineage["versions"] == [1] and lineage["target"] == "label" and lineage["rows"] == 3
    assert lineage["labels"] == {"labelled_rows": 3, "unlabelled_rows": 2, "unlabelled_rows_left_out": 2}
    assert lineage["shadow_rows_left_out"] == 3 and lineage["duplicate_rows_left_out"] == 0
    segments = lineage["segments"]
    assert [segment["rows_used"] for segment in segments] == [3, 2]
    assert all(segment["path"].startswith("predictions/fraud/1/2026-11-30/") for segment in segments)
    assert all(not Path(segment["path"]).is_absolute() for segment in segments)


def test_all_keeps_unlabelled_rows_with_an_empty_label(
    registry: Registry, logged: tuple[PredictionLog, PredictionRecord, PredictionRecord]
) -> None:
    log, first, second = logged
    version = dataset_from_log(registry, log, "fraud", start=START, end=END, labelled=False)
    assert (version.ref, version.rows) == ("fraud-logged/1", 5)
    rows = registry.datasets.load(version)
    assert rows["prediction_id"].tolist() == [*first.prediction_ids, *second.prediction_ids]
    assert [None if pd.isna(label) else label for label in rows["label"]] == [0, 1, None, 0, None]
    assert version.notes["lineage"]["labels"] == {"labelled_rows": 3, "unlabelled_rows": 2}


def test_the_same_rows_twice_are_one_version_and_a_new_label_makes_the_next(
    registry: Registry, logged: tuple[PredictionLog, PredictionRecord, PredictionRecord]
) -> None:
    log, first, _ = logged
    made = dataset_from_log(registry, log, "fraud", start=START, end=END)
    again = dataset_from_log(registry, log, "fraud", start=START, end=END)
    assert (again.ref, again.sha256, again.created) == (made.ref, made.sha256, False)
    attach_labels(registry, log, [(first.prediction_ids[2], 1)], settle_seconds=0)
    grown = dataset_from_log(registry, log, "fraud", start=START, end=END)
    assert (grown.ref, grown.rows) == ("fraud-labelled/2", 4)


def test_the_label_column_is_the_target_the_model_was_trained_on(registry: Registry) -> None:
    _register(registry, training={"report": {"target": "is_fraud"}})
    item = record(2, at=START + timedelta(minutes=1), seed=4)
    log = _log(registry, item)
    attach_labels(registry, log, [(item.prediction_ids[0], 1)], settle_seconds=0)
    version = dataset_from_log(registry, log, "fraud", start=START, end=END, name="retrain")
    assert version.ref == "retrain/1" and "is_fraud" in registry.datasets.load(version).columns
    chosen = dataset_from_log(registry, log, "fraud", start=START, end=END, target="truth")
    assert "truth" in registry.datasets.load(chosen).columns


def test_rows_from_versions_with_other_inputs_are_refused_unless_versions_are_chosen(
    registry: Registry,
) -> None:
    _register(registry)
    _register(registry)
    one = record(2, at=START + timedelta(minutes=1), seed=5)
    other = record(2, version=2, at=START + timedelta(minutes=2), seed=6)
    other = replace(other, inputs=other.inputs.assign(country="fr"))
    log = _log(registry, one, other)
    attach_labels(registry, log, [(one.prediction_ids[0], 1), (other.prediction_ids[0], 0)], settle_seconds=0)
    with pytest.raises(
        InvalidInput, match=r"input columns of fraud changed.*fraud/2 logged .*country.*--version"
    ):
        dataset_from_log(registry, log, "fraud", start=START, end=END)
    chosen = dataset_from_log(registry, log, "fraud", start=START, end=END, versions=[2])
    assert "country" in registry.datasets.load(chosen).columns and chosen.rows == 1
    with pytest.raises(
        NotFound, match=r"no logged predictions of version\(s\) 7 \(versions in the log: 1, 2\)"
    ):
        dataset_from_log(registry, log, "fraud", start=START, end=END, versions=[7])


def test_bad_requests_say_what_is_wrong(
    registry: Registry, logged: tuple[PredictionLog, PredictionRecord, PredictionRecord]
) -> None:
    log, _, _ = logged
    with pytest.raises(NotFound, match="model 'frau' not found; did you mean 'fraud'"):
        dataset_from_log(registry, log, "frau", start=START, end=END)
    with pytest.raises(InvalidInput, match="start must come before its end"):
        dataset_from_log(registry, log, "fraud", start=END, end=START)
    early = START - timedelta(days=2)
    with pytest.raises(NotFound, match=r"no logged predictions between .* its log covers 2026-11-30 10:00"):
        dataset_from_log(registry, log, "fraud", start=early, end=early + timedelta(hours=1))
    _register(registry, "churn")
    with pytest.raises(NotFound, match="'churn' has no logged predictions at all"):
        dataset_from_log(registry, log, "churn", start=START, end=END)


def test_a_window_without_labels_is_refused_when_labels_are_asked_for(registry: Registry) -> None:
    _register(registry)
    log = _log(registry, record(2, at=START + timedelta(minutes=1), seed=7))
    with pytest.raises(NotFound, match="none of the 2 logged predictions .* has a label yet.*--all"):
        dataset_from_log(registry, log, "fraud", start=START, end=END)
    assert dataset_from_log(registry, log, "fraud", start=START, end=END, labelled=False).rows == 2


def test_the_command_stores_the_dataset_and_reports_its_lineage(
    registry: Registry,
    logged: tuple[PredictionLog, PredictionRecord, PredictionRecord],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SHIPYARD_HOME", str(registry.settings.home))
    monkeypatch.setenv("SHIPYARD_REGISTRY_URL", registry.settings.registry_url)
    monkeypatch.setenv("COLUMNS", "200")
    window = ["--from", "2026-11-30T10:00", "--to", "2026-11-30T12:00"]
    assert main(["data", "from-log", "fraud", *window, "--json"]) == 0
    captured = capsys.readouterr()
    shown = json.loads(captured.out)
    assert shown["ref"] == "fraud-labelled/1" and shown["rows"] == 3
    assert shown["notes"]["lineage"]["labels"]["labelled_rows"] == 3
    assert "workspace:" in captured.err

    assert main(["data", "from-log", "fraud", *window, "--all", "--name", "everything"]) == 0
    out = capsys.readouterr().out
    assert "added everything/1: 5 rows" in out and "2 (kept, label empty)" in out

    days = ["--from", "2026-11-30", "--to", "2026-12-01", "--version", "1", "--target", "is_fraud"]
    assert main(["data", "from-log", "fraud", *days, "--json"]) == 0  # as docs/data.md shows it
    whole_day = json.loads(capsys.readouterr().out)
    assert whole_day["rows"] == 5 and whole_day["notes"]["lineage"]["target"] == "is_fraud"

    assert main(["data", "from-log", "fraud", "--from", "yesterday", "--to", "now"]) == 2
    assert "'yesterday' is not an ISO time" in capsys.readouterr().err
    assert main(["data", "from-log", "fraud", "--from", "2026-11-30T12:00", "--to", "2026-11-30T10:00"]) == 2
    assert "start must come before its end" in capsys.readouterr().err
    assert main(["data", "from-log", "fraudd", *window]) == 3
    assert "did you mean 'fraud'" in capsys.readouterr().err


def test_training_on_the_dataset_leaves_out_the_columns_the_log_added(registry: Registry) -> None:
    """The exclude list the docs give works, and forgetting it fails instead of learning the old answers."""
    from shipyard.training import train

    _register(registry)
    item = record(60, at=START + timedelta(minutes=1), seed=8)
    log = _log(registry, item)
    labels = [(identifier, row % 2) for row, identifier in enumerate(item.prediction_ids)]
    attach_labels(registry, log, labels, settle_seconds=0)
    dataset = dataset_from_log(registry, log, "fraud", start=START, end=END)
    spec = {
        "model": "fraud",
        "data": {"dataset": dataset.ref, "target": "label"},
        "estimator": {"class": "sklearn.linear_model.LogisticRegression"},
        "cv": {"folds": 2},
    }
    with pytest.raises(InvalidInput, match="'_prediction' is reserved"):
        train(spec, registry=registry, progress=False)
    spec["data"] = {
        "dataset": dataset.ref,
        "target": "label",
        "exclude": ["prediction_id", "timestamp", "version", "_prediction"],
    }
    trained = train(spec, registry=registry, progress=False)
    assert trained.report.features == ["amount", "channel", "hour"]
    assert trained.report.datasets["data"] == dataset.ref
    assert trained.version is not None  # its lineage points at exactly these rows
    assert trained.version.lineage["datasets"]["data"] == dataset.sha256


def test_a_prediction_logged_twice_is_one_row(registry: Registry) -> None:
    _register(registry)
    item = record(2, at=START + timedelta(minutes=1), seed=9)
    log = _log(registry, item, item)  # a replayed segment
    attach_labels(registry, log, [(item.prediction_ids[0], 1)], settle_seconds=0)
    version = dataset_from_log(registry, log, "fraud", start=START, end=END, labelled=False)
    assert version.rows == 2 and version.notes["lineage"]["duplicate_rows_left_out"] == 2


def test_an_input_named_like_a_column_the_log_adds_is_refused(registry: Registry) -> None:
    _register(registry)
    item = record(1, at=START + timedelta(minutes=1), seed=10)
    log = _log(registry, replace(item, inputs=item.inputs.rename(columns={"hour": "version"})))
    with pytest.raises(InvalidInput, match="input column\\(s\\) 'version' have the name of a column"):
        dataset_from_log(registry, log, "fraud", start=START, end=END, labelled=False)


def test_a_prediction_logged_twice_keeps_its_earliest_answer(registry: Registry) -> None:
    """A replay logged later, or at the same time with another answer, never replaces the first row."""
    _register(registry)
    item = record(3, at=START + timedelta(minutes=5), seed=11)
    earlier = replace(item, prediction_ids=item.prediction_ids[:1], inputs=item.inputs.iloc[:1])
    earlier = replace(earlier, at=START + timedelta(minutes=1), predictions=np.array([7]), probabilities=None)
    same_time = replace(item, predictions=item.predictions + 10)  # replayed with other answers
    log = _log(registry, item, same_time, earlier)
    version = dataset_from_log(registry, log, "fraud", start=START, end=END, labelled=False)
    rows = registry.datasets.load(version)
    assert rows["prediction_id"].tolist() == item.prediction_ids
    assert rows["_prediction"].tolist() == [7, *item.predictions[1:]]
    assert rows["timestamp"].iloc[0] == pd.Timestamp(START + timedelta(minutes=1))
    assert version.notes["lineage"]["duplicate_rows_left_out"] == 4


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (["1", "0"], [1, 0, None]),
        (["true", "false"], [True, False, None]),
        (['"churn"', '"stay"'], ["churn", "stay", None]),
        (["2.5", "1"], [2.5, 1.0, None]),
    ],
)
def test_each_label_keeps_its_json_value_and_a_row_without_one_is_empty(
    registry: Registry, stored: list[str], expected: list[object]
) -> None:
    _register(registry)
    item = record(3, at=START + timedelta(minutes=1), seed=12)
    log = _log(registry, item)
    labels = {
        identifier: NewLabel("fraud", 1, item.at, text)
        for identifier, text in zip(item.prediction_ids, stored, strict=False)
    }
    FeedbackRepository(registry.db).store(labels, source="test", received_at=END)
    everything = registry.datasets.load(
        dataset_from_log(registry, log, "fraud", start=START, end=END, labelled=False)
    )
    assert [None if pd.isna(label) else label for label in everything["label"]] == expected
    labelled = registry.datasets.load(dataset_from_log(registry, log, "fraud", start=START, end=END))
    assert labelled["label"].tolist() == expected[:2]
