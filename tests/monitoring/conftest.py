"""A workspace with one trained fraud model (fraud/1), shared by a test module."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard import Registry
from shipyard.registry import ModelVersion
from shipyard.training import train
from tests.models import transactions
from tests.serving.conftest import fraud_spec


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ModelVersion]:
    home = tmp_path_factory.mktemp("windows") / "ws"
    with Registry(home=home) as registry:
        registry.datasets.add("tx", transactions(rows=800))
        version = train(fraud_spec(), registry=registry, progress=False).version
    return home, version
