"""Request hot path benchmark: what one single-row request costs the serving engine, piece by piece.

Two models, each wrapped as the registry would load it (``SklearnModel``) with a contract inferred from
its 1,000 training rows: a HistGradientBoostingClassifier (100 iterations) on 20 float columns, and a
Pipeline (ColumnTransformer with OneHotEncoder and StandardScaler, then the same classifier) on a mixed
table. For each it times, per single-row call: contract validation (``validate(mode="split")``), the
model calls (``predict`` then ``predict_proba``, and the single pass ``predict_with_proba`` where the
model has it), and ``ModelSlot.handle`` — validation, model and result — as the batcher's worker runs it.
Models run on one OpenMP/BLAS thread, as ``shipyard serve`` sets them up. Prints only: this is a
developer's tool, not one of the published benchmarks in docs/benchmarks.md.

    python bench/hot_path.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Timing, markdown_table, measure
from shipyard.contracts import Contract
from shipyard.flavors.base import LoadedModel
from shipyard.flavors.sklearn import SklearnModel
from shipyard.registry import ModelVersion
from shipyard.serving.engine import ModelSlot, _Job

TRAINING_ROWS = 1000
WARM_CALLS = 200


def numeric_case(seed: int = 0) -> tuple[Any, pd.DataFrame, pd.DataFrame]:
    """HGB on 20 standard-normal float columns: (estimator, training frame, request rows)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(TRAINING_ROWS + 50, 20)), columns=[f"f{i}" for i in range(20)])
    target = (frame["f0"] + 0.5 * frame["f1"] - frame["f2"] + rng.normal(size=len(frame)) > 0).astype(int)
    training, requests = frame.iloc[:TRAINING_ROWS], frame.iloc[TRAINING_ROWS:].reset_index(drop=True)
    model = HistGradientBoostingClassifier(max_iter=100, early_stopping=False, random_state=0)
    return model.fit(training, target.iloc[:TRAINING_ROWS]), training, requests


def mixed_case(seed: int = 1) -> tuple[Any, pd.DataFrame, pd.DataFrame]:
    """OneHotEncoder + StandardScaler + HGB on 6 float and 3 text columns, string labels."""
    rng = np.random.default_rng(seed)
    size = TRAINING_ROWS + 50
    numbers = [f"x{i}" for i in range(6)]
    texts = {
        "plan": ["basic", "pro", "team"],
        "region": ["eu", "us", "apac", "latam"],
        "device": ["ios", "web"],
    }
    frame = pd.DataFrame(rng.normal(size=(size, len(numbers))), columns=numbers)
    for name, levels in texts.items():
        frame[name] = rng.choice(levels, size)
    signal = frame["x0"] - frame["x1"] + (frame["plan"] == "pro") + rng.normal(size=size)
    target = np.where(signal > 0.5, "churn", "stay")
    columns = ColumnTransformer(
        [
            ("text", OneHotEncoder(handle_unknown="ignore"), list(texts)),
            ("numbers", StandardScaler(), numbers),
        ]
    )
    model = Pipeline(
        [
            ("columns", columns),
            ("model", HistGradientBoostingClassifier(max_iter=100, early_stopping=False, random_state=0)),
        ]
    )
    training, requests = frame.iloc[:TRAINING_ROWS], frame.iloc[TRAINING_ROWS:].reset_index(drop=True)
    return model.fit(training, target[:TRAINING_ROWS]), training, requests


def slot_for(name: str, model: LoadedModel, contract: Contract) -> ModelSlot:
    version = ModelVersion(
        model=name,
        version=1,
        flavor=model.flavor,
        flavor_metadata={},
        artifact_sha256="",
        artifact_size=0,
        info=model.describe(),
        input_schema=contract.to_dict(),
        metrics={},
        params={},
        tags={},
        description="",
        lineage={},
        created_at=datetime.now(UTC),
        created_by="bench",
    )
    return ModelSlot(name, version, model, contract)


def time_case(
    name: str, estimator: Any, training: pd.DataFrame, requests: pd.DataFrame, calls: int
) -> list[Timing]:
    model = SklearnModel(estimator)
    contract = Contract.infer(training)
    slot = slot_for(name, model, contract)
    rows = [requests.iloc[[i % len(requests)]].reset_index(drop=True) for i in range(calls)]
    jobs = [[_Job(row, False, True, "bench")] for row in rows]
    single_pass = getattr(model, "predict_with_proba", None)

    def two_calls(i: int) -> None:
        model.predict(rows[i])
        model.predict_proba(rows[i])

    operations = {
        "validate": lambda i: contract.validate(rows[i], mode="split"),
        "predict + predict_proba": two_calls,
        "predict_with_proba": (lambda i: single_pass(rows[i])) if single_pass is not None else None,
        "ModelSlot.handle": lambda i: slot.handle(jobs[i]),
    }
    timings = []
    for label, operation in operations.items():
        if operation is None:
            continue
        for i in range(WARM_CALLS):  # first calls pay one-off costs (imports, caches)
            operation(i)
        timings.append(measure(label, operation, calls))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="single-row calls timed per operation")
    options = parser.parse_args()
    table_rows = []
    for name, case in (("hgb-20-floats", numeric_case), ("pipeline-mixed", mixed_case)):
        estimator, training, requests = case()
        with threadpool_limits(limits=1):  # what `shipyard serve` sets: one thread per worker
            timings = time_case(name, estimator, training, requests, options.calls)
        for timing in timings:
            table_rows.append((name, timing.label, f"{timing.median_ms:.3f}", f"{timing.p99_ms:.3f}"))
    print(markdown_table(["model", "per single-row call", "p50 ms", "p99 ms"], table_rows))


if __name__ == "__main__":
    main()
