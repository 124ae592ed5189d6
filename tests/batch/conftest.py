"""A workspace with fraud/1 (promoted to production), and input tables made here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard import Registry
from shipyard.gates import promote
from shipyard.training import train
from tests.models import transactions
from tests.serving.conftest import FEATURES, fraud_spec


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("batch") / "ws"
    with Registry(home=home) as registry:
        registry.datasets.add("tx", transactions(rows=400))
        train(fraud_spec(), registry=registry, progress=False)
        promote(registry, "fraud/1", "production")
    return home


@pytest.fixture
def registry(trained: Path) -> Iterator[Registry]:
    with Registry(home=trained) as opened:
        yield opened


def table(rows: int, seed: int) -> pd.DataFrame:
    """Transactions with their features, a customer column and an id (unique across seeds)."""
    frame = transactions(rows=rows, seed=seed)[[*FEATURES, "customer"]]
    return frame.assign(id=np.arange(rows) + seed * 1_000_000)
