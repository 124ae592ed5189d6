"""A workspace with one trained fraud model (fraud/1), shared by a test module, and requests logged into
copies of it as the server logs them."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from shipyard import Registry
from shipyard.predictions import LogWriter
from shipyard.registry import ModelVersion
from shipyard.training import train
from tests.models import transactions
from tests.served import served_record
from tests.serving.conftest import fraud_spec


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ModelVersion]:
    home = tmp_path_factory.mktemp("windows") / "ws"
    with Registry(home=home) as registry:
        registry.datasets.add("tx", transactions(rows=800))
        version = train(fraud_spec(), registry=registry, progress=False).version
    return home, version


def log_request(registry: Registry, version: ModelVersion, frame: pd.DataFrame, at: datetime) -> list[str]:
    """``frame`` served as one request at ``at``, logged as the server logs it; its prediction ids."""
    record = served_record(registry.load_model(version.ref), version, frame, at)
    writer = LogWriter(registry.settings.log_url, flush_seconds=60)
    writer.submit(record)
    writer.close()
    return record.prediction_ids


def served_copy(
    trained: tuple[Path, ModelVersion],
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    requests: Iterable[tuple[datetime, pd.DataFrame]],
) -> Path:
    """A copy of the trained workspace with ``requests`` (when, rows) served by fraud/1 and logged."""
    home = tmp_path_factory.mktemp(name) / "ws"
    shutil.copytree(trained[0], home)
    with Registry(home=home) as registry:
        version = registry.resolve("fraud/1")
        for at, frame in requests:
            log_request(registry, version, frame, at)
    return home
