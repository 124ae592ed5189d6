"""The demo behind ``make demo``: the registry loop on generated data, using only the embedded defaults.

It trains two fraud classifiers on data generated in code, registers both with metrics, parameters and
dataset lineage, points ``production`` at the first and then the second, rolls back in one call, proves the
loaded model predicts exactly what the trained one did, and prints the audit trail. Later capabilities
(gates, serving, monitoring) extend this same story.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from shipyard.cli import render
from shipyard.errors import Conflict
from shipyard.registry import Registry
from shipyard.workspace import init_workspace

_MARKER = ".shipyard-demo"
SEED = 7


def make_transactions(rows: int = 4000, seed: int = SEED) -> pd.DataFrame:
    """Synthetic card transactions whose fraud label depends non-linearly on amount, hour and channel."""
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(mean=3.5, sigma=1.0, size=rows)
    hour = rng.integers(0, 24, size=rows)
    channel = rng.choice(["web", "app", "pos"], size=rows, p=[0.4, 0.35, 0.25])
    age_days = rng.integers(1, 3650, size=rows)
    night = (hour < 6) | (hour > 22)
    logit = -3.0 + 0.9 * np.log1p(amount) * night + 1.2 * (channel == "web") - 0.0006 * age_days
    logit += 0.8 * np.sin(amount / 40.0)
    fraud = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "amount": amount,
            "hour": hour,
            "channel": channel,
            "account_age_days": age_days,
            "fraud": fraud.astype(int),
        }
    )


def _pipeline(estimator: object) -> Pipeline:
    features = ColumnTransformer(
        [
            ("numbers", StandardScaler(), ["amount", "hour", "account_age_days"]),
            ("channel", OneHotEncoder(handle_unknown="ignore"), ["channel"]),
        ]
    )
    return Pipeline([("features", features), ("model", estimator)])


def _fresh_workspace(directory: Path) -> Path:
    directory = directory.resolve()
    if directory.exists():
        if not (directory / _MARKER).exists() and any(directory.iterdir()):
            raise Conflict(f"{directory} exists and was not made by the demo; pass --dir with a new folder")
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    (directory / _MARKER).write_text("created by 'shipyard demo'; deleted and recreated on every run\n")
    return directory


def run_demo(directory: Path) -> None:
    """Run the demo in a fresh workspace at ``directory``."""
    workspace = _fresh_workspace(Path(directory))
    settings = init_workspace(workspace / ".shipyard", exist_ok=True)
    render.message("[bold]1. workspace[/] {} (SQLite registry, local artifact store)", settings.home)

    data = make_transactions()
    data_hash = hashlib.sha256(pd.util.hash_pandas_object(data, index=False).values.tobytes()).hexdigest()
    features = data.drop(columns="fraud")
    train_x, test_x, train_y, test_y = train_test_split(
        features, data["fraud"], test_size=0.25, random_state=SEED, stratify=data["fraud"]
    )
    candidates = [
        ("logistic regression baseline", LogisticRegression(max_iter=500, C=1.0)),
        (
            "gradient boosting",
            HistGradientBoostingClassifier(max_iter=120, learning_rate=0.1, random_state=SEED),
        ),
    ]

    with Registry(settings) as registry:
        registry.create_model(
            "fraud", description="Flags card transactions for manual review.", tags={"team": "risk"}
        )
        trained = {}
        for label, estimator in candidates:
            model = _pipeline(estimator).fit(train_x, train_y)
            proba = model.predict_proba(test_x)[:, 1]
            metrics = {
                "roc_auc": roc_auc_score(test_y, proba),
                "accuracy": accuracy_score(test_y, model.predict(test_x)),
            }
            version = registry.register(
                "fraud",
                model,
                metrics=metrics,
                params={"estimator": type(estimator).__name__, **_simple_params(estimator)},
                tags={"candidate": label},
                description=f"{label.capitalize()} over amount, hour, channel and account age.",
                datasets={"train": data_hash},
                seed=SEED,
                reason="demo training run",
            )
            trained[version.version] = model
            render.message(
                "[bold]2. registered[/] {}: {}, roc_auc={}, sha256 {}…",
                version.ref,
                label,
                f"{metrics['roc_auc']:.3f}",
                version.artifact_sha256[:12],
            )

        registry.set_alias("fraud", "production", 1, reason="first release")
        registry.set_alias("fraud", "production", 2, reason="gradient boosting is better on the hold-out")
        render.message("[bold]3. production[/] → fraud/1, then → fraud/2")

        change = registry.rollback("fraud@production", reason="demo: pretend v2 misbehaves")
        render.message(
            "[bold]4. rollback[/] fraud@production: v{} → v{} (one call)",
            change.previous_version,
            change.version,
        )

        production = registry.resolve("fraud@production")
        loaded = registry.load_model("fraud@production")
        sample = test_x.head(200)
        same = np.array_equal(loaded.predict(sample), trained[production.version].predict(sample))
        render.message(
            "[bold]5. load[/] {} from the artifact store (hash verified): predictions identical to the "
            "trained model on 200 rows: {}",
            production.ref,
            "yes" if same else "NO",
        )
        if not same:
            raise AssertionError("the loaded model does not predict what the trained model predicted")

        render.table(
            "versions of fraud",
            ["version", "aliases", "format", "roc_auc", "candidate"],
            [
                (v.version, v.aliases, v.flavor, v.metrics["roc_auc"], v.tags.get("candidate"))
                for v in registry.list_versions("fraud")
            ],
        )
        render.audit_table("audit trail", registry.audit(model="fraud"))
    render.message(
        "done. Explore it with: shipyard --home {} models show fraud@production --card", settings.home
    )


def _simple_params(estimator: object) -> dict[str, object]:
    get_params = getattr(estimator, "get_params", None)
    if get_params is None:
        return {}
    return {k: v for k, v in get_params().items() if isinstance(v, int | float | str | bool) or v is None}
