"""MLflow's side of bench/serving.py, run in MLflow's own virtualenv (``bench/.venv-mlflow``).

Saves the benchmark's classifier — the joblib dump bench/serving.py wrote from the very object shipyard
serves — as an MLflow model directory for ``mlflow models serve``, the way MLflow's docs do it:
``mlflow.sklearn.save_model`` with a signature inferred from the feature frame, so the scoring server
enforces the input schema as shipyard enforces its contract. MLflow 3 stores scikit-learn models with skops;
the one type skops does not trust by default (the trees of a HistGradientBoosting model) is named as trusted,
since this process wrote the file itself. Prints ``{"mlflow": version}`` as JSON.

    python bench/baselines/mlflow_serving_model.py --model-file model.joblib --output mlflow-model
"""

from __future__ import annotations

import argparse
import json
import logging
import warnings

TRUSTED_TYPES = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-file", required=True, help="joblib dump of a fitted classifier")
    parser.add_argument("--output", required=True, help="directory to create (must not exist)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)

    import joblib
    import mlflow
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature

    model = joblib.load(args.model_file)
    example = pd.DataFrame(np.zeros((2, len(model.feature_names_in_))), columns=list(model.feature_names_in_))
    mlflow.sklearn.save_model(
        model,
        args.output,
        signature=infer_signature(example, model.predict(example)),
        skops_trusted_types=TRUSTED_TYPES,
    )
    print(json.dumps({"mlflow": mlflow.__version__}))


if __name__ == "__main__":
    main()
