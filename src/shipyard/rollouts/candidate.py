"""Can the candidate take traffic? It must load (its artifact's hash verified) and predict on a few rows
before a rollout starts, so a broken version fails its rollout before any request reaches it.

The rows are the ones serving warms a version up with (``registry.samples``): the first rows of its holdout
set, else rows built from its data contract; a version with neither is only loaded, and the check says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from shipyard.contracts import Contract
from shipyard.errors import InvalidInput, Unauthorized
from shipyard.registry import ModelVersion, Registry
from shipyard.registry.samples import sample_rows


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


def _refused(version: ModelVersion, what: str, error: BaseException) -> InvalidInput:
    detail = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
    return InvalidInput(
        f"{version.ref} cannot take traffic: it {what} ({detail}); no rollout was started. "
        f"Fix the version and register it again, or roll out another one"
    )
