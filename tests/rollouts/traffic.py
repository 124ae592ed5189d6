"""Rollout traffic written to a real prediction log, as servers log it: records with their arm, failed
requests, and shadow answers paired with the stable answers they mirror."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np

from shipyard import Registry
from shipyard.predictions import LogWriter, PredictionRecord
from shipyard.predictions.events import FailedRequest
from tests.models import classification_frame, tiny_classifier
from tests.predictions.conftest import record

SHADOW = "-shadow"


def fraud_versions(registry: Registry, versions: int = 3) -> None:
    """``versions`` versions of a tiny fraud classifier (seeds 0, 1, …), fraud@production on version 1."""
    frame, _ = classification_frame()
    for seed in range(versions):
        registry.register("fraud", tiny_classifier(seed), reference=frame)
    registry.set_alias("fraud", "production", 1)


def answered(
    count: int, *, version: int, arm: str, at: datetime, latency: float = 0.002, flip: bool = False
) -> list[PredictionRecord]:
    """``count`` one-row requests answered by ``version`` as ``arm``, a millisecond apart from ``at``;
    ``flip`` turns every predicted label (and its probabilities) around."""
    made = []
    for index in range(count):
        made.append(
            _flipped(
                dataclasses.replace(
                    record(1, version=version, at=at + timedelta(milliseconds=index), seed=index),
                    arm=arm,
                    latency_seconds=latency,
                ),
                flip,
            )
        )
    return made


def shadows(stable: list[PredictionRecord], *, version: int, flip: bool = False) -> list[PredictionRecord]:
    """The candidate's answers to mirrored copies of ``stable``: same request ids, ids with ``-shadow``."""
    return [
        _flipped(
            dataclasses.replace(
                item,
                version=version,
                arm="shadow",
                prediction_ids=[identifier + SHADOW for identifier in item.prediction_ids],
                at=item.at + timedelta(milliseconds=1),
            ),
            flip,
        )
        for item in stable
    ]


def failed(count: int, *, version: int, arm: str, at: datetime, status: int = 500) -> list[FailedRequest]:
    error = "model_error" if status >= 500 else "rejected"
    return [
        FailedRequest(
            f"failed-{arm}-{index}",
            at + timedelta(milliseconds=index),
            "fraud",
            version,
            "native",
            status,
            error,
            1,
            0.002,
            arm=arm,
        )
        for index in range(count)
    ]


def write(url: str, records: list[PredictionRecord], failures: Sequence[FailedRequest] = ()) -> None:
    writer = LogWriter(url, flush_seconds=60)
    for item in records:
        writer.submit(item)
    for failure in failures:
        writer.submit_failure(failure)
    writer.close()


def _flipped(item: PredictionRecord, flip: bool) -> PredictionRecord:
    if not flip:
        return item
    probabilities = None if item.probabilities is None else np.asarray(item.probabilities)[:, ::-1].copy()
    return dataclasses.replace(
        item, predictions=1 - np.asarray(item.predictions), probabilities=probabilities
    )
