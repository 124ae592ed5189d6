"""Can the candidate take traffic? It must load (its artifact's hash verified) and predict on a few rows
before a rollout starts, so a broken version fails its rollout before any request reaches it.

The rows are the ones serving warms a version up with: the first rows of its holdout set, when it was
trained by shipyard. A version registered without one gets rows built from its data contract (each column's
observed range or categories); a version with neither is only loaded, and the check says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from shipyard.contracts import ColumnContract, Contract
from shipyard.errors import InvalidInput, ShipyardError, Unauthorized
from shipyard.registry import ModelVersion, Registry

#: As many rows as serving warms a version up with.
SAMPLE_ROWS = 8


@dataclass(frozen=True)
class CandidateCheck:
    """What the check did: ``source`` of the rows (holdout, contract, or none: loaded only), how many rows
    were predicted, and how long loading and predicting took."""

    ref: str
    source: str
    rows: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "source": self.source, "rows": self.rows, "seconds": round(self.seconds, 3)}


def check_candidate(registry: Registry, version: ModelVersion, *, trust: bool = False) -> CandidateCheck:
    """Load ``version`` and predict on a few rows; InvalidInput saying which failed and why otherwise."""
    started = time.perf_counter()
    try:
        model = registry.load_model(version.ref, trust=trust)
    except Unauthorized:
        raise  # the format needs trust=True: that message already says what to do
    except Exception as error:  # any flavor's loading error: the candidate cannot serve
        raise _refused(version, "failed to load", error) from error
    rows, source = sample_rows(registry, version)
    if rows is None:
        return CandidateCheck(version.ref, "none", 0, time.perf_counter() - started)
    try:
        contract = Contract.from_dict(version.input_schema) if version.input_schema else None
        if contract is not None:
            valid = contract.validate(rows, mode="split").valid
            rows = valid if len(valid) else rows
        predictions, _ = model.predict_with_proba(rows)
        if len(np.asarray(predictions)) != len(rows):
            raise ValueError(f"it returned {len(np.asarray(predictions))} predictions for {len(rows)} rows")
    except Exception as error:  # the model's own failure, whatever its library raises
        raise _refused(version, f"failed to predict on {len(rows)} rows of its {source}", error) from error
    return CandidateCheck(version.ref, source, len(rows), time.perf_counter() - started)


def sample_rows(registry: Registry, version: ModelVersion) -> tuple[pd.DataFrame | None, str]:
    """A few realistic input rows for ``version`` and where they came from: its holdout set, else rows
    built from its contract, else ``(None, "none")``."""
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
        contract = Contract.from_dict(version.input_schema)
        return contract_rows(contract), "contract"
    return None, "none"


def contract_rows(contract: Contract) -> pd.DataFrame:
    """Three rows every column of ``contract`` accepts: low, middle and high of each column's range (or its
    first categories)."""
    return pd.DataFrame({column.name: _values(column) for column in contract.columns})


def _values(column: ColumnContract) -> list[Any]:
    low = column.minimum if column.minimum is not None else column.observed_min
    high = column.maximum if column.maximum is not None else column.observed_max
    if column.categories:
        return [column.categories[index % len(column.categories)] for index in range(3)]
    if column.type in ("integer", "float"):
        lo = float(low) if low is not None else 0.0
        hi = float(high) if high is not None else lo + 1.0
        values = [lo, (lo + hi) / 2, hi]
        return [round(value) for value in values] if column.type == "integer" else values
    if column.type == "boolean":
        return [False, True, False]
    if column.type == "datetime":
        start = pd.Timestamp(str(low)) if low is not None else pd.Timestamp(datetime(2026, 1, 1))
        if column.timezone and start.tzinfo is None:
            start = start.tz_localize(column.timezone)
        return [start, start + timedelta(hours=1), start + timedelta(days=1)]
    return ["a", "b", "c"]


def _refused(version: ModelVersion, what: str, error: BaseException) -> InvalidInput:
    detail = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
    return InvalidInput(
        f"{version.ref} cannot take traffic: it {what} ({detail}); no rollout was started. "
        f"Fix the version and register it again, or roll out another one"
    )
