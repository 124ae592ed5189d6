"""A version is run once before it takes traffic: on its holdout rows, else on rows built from its data
contract. Made-up rows that the model refuses do not stop it from serving."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard import Registry
from shipyard.contracts import Contract
from shipyard.registry import VersionMetadata
from shipyard.serving.engine import Engine

FRAME = pd.DataFrame({"amount": [1.0, 5.0, 9.0], "channel": ["web", "pos", "web"]})


class CallLog:
    """A model that writes the size of every batch it is given to a file; ``fail`` refuses them all."""

    def __init__(self, path: Path, fail: bool = False) -> None:
        self.path, self.fail = str(path), fail

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        with open(self.path, "a") as calls:
            calls.write(f"{len(frame)} {sorted(frame.columns)}\n")
        if self.fail:
            raise ValueError("this model only takes real rows")
        return np.zeros(len(frame))


def serve(home: Path, model: CallLog) -> Engine:
    with Registry(home=home) as registry:
        metadata = VersionMetadata(input_schema=Contract.infer(FRAME).to_dict())
        registry.register("m", model, metadata=metadata)

    async def load() -> Engine:
        engine = Engine(Registry(home=home), ["m/1"], trust=True)
        await engine.refresh()
        return engine

    return asyncio.run(load())


def test_a_version_without_holdout_rows_is_warmed_on_rows_its_contract_accepts(tmp_path: Path) -> None:
    calls = tmp_path / "calls.txt"
    engine = serve(tmp_path / "home", CallLog(calls))
    assert engine.slot("m").version.version == 1
    assert calls.read_text().splitlines() == ["3 ['amount', 'channel']"]  # before any request


def test_a_model_refusing_made_up_rows_still_serves_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="shipyard.serving"):
        engine = serve(tmp_path / "home", CallLog(tmp_path / "calls.txt", fail=True))
    assert engine.slot("m").version.version == 1
    assert "m/1 failed on rows built from its contract" in caplog.text
