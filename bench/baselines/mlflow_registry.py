"""MLflow's side of bench/registry.py, run in its own virtualenv (MLflow pins packages shipyard does not).

Registers ``--versions`` small scikit-learn models through
``mlflow.sklearn.log_model(registered_model_name=…)`` — MLflow's way to put a fitted model into its
registry, here with explicit requirements, its fastest path — on a SQLite (or PostgreSQL) backend, then
resolves ``--resolves`` references by version and by alias with ``MlflowClient``; prints latencies as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import warnings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", type=int, default=200)
    parser.add_argument("--resolves", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - MLflow prints a line per registration
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")

    import mlflow
    import numpy as np
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    workdir = tempfile.mkdtemp(prefix="mlflow-bench-")
    url = args.database_url or f"sqlite:///{workdir}/mlflow.db"
    mlflow.set_tracking_uri(url)
    mlflow.set_registry_uri(url)
    mlflow.set_experiment("bench")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3))
    y = (x[:, 0] > 0).astype(int)
    model = LogisticRegression().fit(x, y)

    with mlflow.start_run():  # warm-up: imports and first-use costs are not what we measure
        mlflow.sklearn.log_model(
            model, name="model", registered_model_name="warm-up", pip_requirements=["scikit-learn"]
        )
    register = []
    for _ in range(args.versions):
        started = time.perf_counter()
        with mlflow.start_run():
            # Requirements given explicitly: MLflow's fastest path (it skips inferring them in a subprocess).
            mlflow.sklearn.log_model(
                model, name="model", registered_model_name="fraud", pip_requirements=["scikit-learn"]
            )
        register.append(time.perf_counter() - started)

    client = MlflowClient()
    client.set_registered_model_alias("fraud", "production", "1")
    by_version, by_alias = [], []
    for index in range(args.resolves):
        started = time.perf_counter()
        client.get_model_version("fraud", str(1 + index % args.versions))
        by_version.append(time.perf_counter() - started)
        started = time.perf_counter()
        client.get_model_version_by_alias("fraud", "production")
        by_alias.append(time.perf_counter() - started)
    json.dump(
        {"mlflow": mlflow.__version__, "register": register, "by_version": by_version, "by_alias": by_alias},
        sys.stdout,
    )


if __name__ == "__main__":
    main()
