"""A few realistic input rows for a model version, to run it once before it takes traffic: serving warms a
version up on them, and a rollout checks its candidate on them."""

from __future__ import annotations

from typing import Literal

import pandas as pd

from shipyard.contracts import Contract, example_rows
from shipyard.errors import ShipyardError
from shipyard.registry.entities import ModelVersion
from shipyard.registry.registry import Registry

#: How many rows of a holdout set a sample takes.
SAMPLE_ROWS = 8
SampleSource = Literal["holdout", "contract", "none"]


def sample_rows(registry: Registry, version: ModelVersion) -> tuple[pd.DataFrame | None, SampleSource]:
    """Rows for ``version`` and where they came from: the first rows of its holdout set (trained by
    shipyard), else rows built from its data contract, else ``(None, "none")``."""
    report = (version.training or {}).get("report") or {}
    holdout = (report.get("datasets") or {}).get("holdout")
    features = report.get("features")
    if holdout and features:
        try:
            frame = registry.datasets.load(holdout)[features].head(SAMPLE_ROWS).reset_index(drop=True)
            return frame, "holdout"
        except (ShipyardError, KeyError):
            pass  # the dataset is gone or changed shape: fall back to the contract
    if version.input_schema:
        return example_rows(Contract.from_dict(version.input_schema)), "contract"
    return None, "none"
