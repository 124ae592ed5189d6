"""BentoML's side of bench/serving.py: the benchmark's classifier behind a BentoML service, run in its own
virtualenv (``bench/.venv-bentoml``, created by ``make bench``).

BentoML's current service API (1.2 and later): a ``@bentoml.service`` class whose ``predict`` is declared
``batchable`` so BentoML's adaptive batching merges concurrent requests along the first axis before the
model sees them. The model file is the joblib dump that bench/serving.py wrote from the very object shipyard
serves; its path arrives in ``BENCH_MODEL_FILE``. Two workers, the batch size and the time limit mirror the
shipyard server it is compared with (``--workers 2``, ``--max-batch-rows 512``, ``--timeout 10``).

    BENCH_MODEL_FILE=model.joblib bentoml serve bentoml_service:BenchClassifier --working-dir bench/baselines

Request: ``POST /predict`` with ``{"input": [[f0, …, f19], …]}``; response: the predicted labels, one per row.
"""

from __future__ import annotations

import os

import bentoml
import joblib
import numpy as np
import pandas as pd

MODEL_FILE_VARIABLE = "BENCH_MODEL_FILE"


@bentoml.service(workers=2, traffic={"timeout": 10})
class BenchClassifier:
    def __init__(self) -> None:
        self.model = joblib.load(os.environ[MODEL_FILE_VARIABLE])
        # The model was fitted on a DataFrame: give it one, as shipyard and MLflow do, so it checks the names.
        self.columns = list(self.model.feature_names_in_)

    @bentoml.api(batchable=True, max_batch_size=512, max_latency_ms=10_000)
    def predict(self, input: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(pd.DataFrame(input, columns=self.columns)))
