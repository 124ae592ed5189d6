"""The demo behind ``make demo``: the loop so far, on generated data, using only the embedded defaults.

It versions a table of card transactions, trains a baseline fraud model from a spec (cross-validation,
hold-out, slices) and promotes it to ``production``; then trains a weaker and a stronger candidate: the gate
refuses the weaker one and promotes the stronger one, and both gate reports are printed. It rolls back in
one call, proves the model loaded from the registry predicts exactly what was trained, reproduces a
version from its recorded spec, and prints the audit trail. Then production traffic is replayed into the
prediction log: an hour like training, then an hour where amounts triple and web traffic takes over while the
fraud pattern changes; labels arrive late, and the monitors flag exactly the two drifted features and the
accuracy drop. The alerting chapter (``shipyard.cli.demo.alerting``) follows: those findings fire alerts to a
webhook, and a slow model that slipped into production is rolled back by its latency alert. The rollouts
chapter (``shipyard.cli.demo.rollouts``) ends it: a faulty canary is aborted by analysis, its fix walks its
steps to production, and a refit passes a shadow run. The retraining chapter
(``shipyard.cli.demo.retraining``) closes the loop: the world drifts for good, the drift alert starts a
retraining run on the labelled log, the retrained version passes its gate and a canary judged by the late
labels, and accuracy comes back.
"""

from __future__ import annotations

import shutil
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from shipyard.cli import render
from shipyard.cli.demo.alerting import alerting_story
from shipyard.cli.demo.retraining import retraining_story
from shipyard.cli.demo.rollouts import rollouts_story
from shipyard.cli.demo.traffic import FEATURES, SEED, make_drifted, make_transactions, replay
from shipyard.cli.gates import show_gate_report
from shipyard.cli.training import show_report
from shipyard.config import Settings
from shipyard.errors import Conflict, GateFailed
from shipyard.gates import GateReport, promote
from shipyard.registry import ModelVersion, Registry
from shipyard.training import TrainingResult, reproduce, train
from shipyard.workspace import init_workspace

_MARKER = ".shipyard-demo"
_POLICY = """
[gates.fraud.production]
metrics = { roc_auc = ">= 0.70" }
regression = { metrics = ["roc_auc", "log_loss"], tolerance = 0.002 }
slices = { columns = ["channel"], floor = { roc_auc = 0.6 }, min_rows = 50 }
directional = [{ column = "account_age_days", delta = 365, direction = "decreasing" }]
latency = { p99_single_ms = 500, p99_batch_ms = 2000 }
"""


def _spec(label: str, estimator: str, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": "fraud",
        "seed": SEED,
        "description": f"{label}: flags card transactions for manual review.",
        "tags": {"candidate": label},
        "data": {"dataset": "transactions", "target": "fraud", "features": FEATURES},
        "estimator": {"class": estimator, "params": params},
        "cv": {"strategy": "stratified", "folds": 5},
        "evaluation": {"holdout": 0.25, "slices": ["channel"], "min_slice_rows": 50},
    }


DRIFTED_FEATURES = ["amount", "channel"]


def _monitoring_story(registry: Registry) -> datetime:
    """Replay two hours of traffic through fraud@production, attach late labels, and monitor both hours;
    returns the start of the first hour."""
    from shipyard.cli.monitor import print_windows
    from shipyard.monitoring import attach_labels
    from shipyard.monitoring.series import run_monitors
    from shipyard.predictions import LogWriter, PredictionLog

    hour = timedelta(hours=1)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 3 * hour
    calm = make_transactions(3000, seed=SEED + 100)
    drifted = make_drifted(3000, seed=SEED + 200)

    version = registry.resolve("fraud@production")
    writer = LogWriter(registry.settings.log_url, flush_seconds=3600)
    ids = [
        replay(registry, version.ref, calm, start + timedelta(minutes=5), writer),
        replay(registry, version.ref, drifted, start + hour + timedelta(minutes=5), writer),
    ]
    writer.close()
    _announce_step(
        9,
        "replayed 2 hours of traffic through {} into the prediction log ({} predictions)",
        version.ref,
        6000,
    )

    log = PredictionLog(registry.settings.log_url)
    labels = [
        (pid, int(label))
        for part, frame in zip(ids, (calm, drifted), strict=True)
        for pid, label in zip(part, frame["fraud"], strict=True)
    ]
    report = attach_labels(registry, log, labels, source="demo", settle_seconds=0)
    _announce_step(
        10,
        "late labels arrived: {} attached, {} unknown",
        report.counts["attached"],
        report.counts["unknown"],
    )

    results = run_monitors(registry, log, [version], start, start + 2 * hour, hour)
    print_windows([result.to_dict() for result in results])
    before, after = results
    flagged = after.drift.drifted_columns if after.drift else []
    calm_flags = before.drift.drifted_columns if before.drift else []
    _announce_step(
        11,
        "monitors flagged {} in the second hour (drifted on purpose: {}); the first hour: {}",
        ", ".join(flagged) or "nothing",
        ", ".join(DRIFTED_FEATURES),
        ", ".join(calm_flags) or "nothing",
    )
    was, now = before.accuracy.get("accuracy"), after.accuracy.get("accuracy")
    render.message(
        "accuracy with the late labels: {} → {}",
        f"{was:.3f}" if was is not None else "n/a",
        f"{now:.3f}" if now is not None else "n/a",
    )
    if sorted(flagged) != sorted(DRIFTED_FEATURES) or calm_flags or was is None or now is None or now >= was:
        raise AssertionError("the monitors did not flag exactly the drifted features and the accuracy drop")
    return start


def fresh_workspace(directory: Path) -> Path:
    directory = directory.resolve()
    if directory.exists():
        if not (directory / _MARKER).exists() and any(directory.iterdir()):
            raise Conflict(f"{directory} exists and was not made by the demo; pass --dir with a new folder")
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    (directory / _MARKER).write_text("created by 'shipyard demo'; deleted and recreated on every run\n")
    return directory


def _announce_step(number: int, text: str, *values: Any) -> None:
    """Print the heading of step ``number``, so the output reads as the numbered story it tells."""
    render.message(f"\n[bold cyan]{number}.[/] " + text, *values)


def run_demo(directory: Path) -> None:
    """Run the demo in a fresh workspace at ``directory``."""
    settings = _prepare_workspace(Path(directory))
    with Registry(settings) as registry:
        _add_transactions(registry)
        baseline = _release_baseline(registry)
        _refuse_weaker_candidate(registry, baseline)
        stronger = _promote_stronger_candidate(registry)
        _roll_back_and_promote_again(registry, stronger)
        _check_loaded_model(registry, stronger)
        _reproduce(registry, stronger)
        _show_versions_and_audit(registry)
        start = _monitoring_story(registry)
        alerting_story(registry, start, _announce_step)
        rollouts_story(registry, _announce_step)
        retraining_story(registry, _announce_step)
    render.message(
        "\ndone. Explore it with: shipyard --home {} models show fraud@production --card", settings.home
    )


def _prepare_workspace(directory: Path) -> Settings:
    """Step 1: a fresh workspace with the demo's gate policy appended to its configuration."""
    workspace = fresh_workspace(directory)
    settings = init_workspace(workspace / ".shipyard", exist_ok=True)
    config = settings.home / "shipyard.toml"
    config.write_text(config.read_text(encoding="utf-8") + textwrap.dedent(_POLICY), encoding="utf-8")
    _announce_step(
        1,
        "workspace {} (SQLite registry, local artifact store) with a gate policy for production",
        settings.home,
    )
    return settings


def _add_transactions(registry: Registry) -> None:
    """Step 2: version the generated transactions as the dataset every candidate trains on."""
    data = registry.datasets.add("transactions", make_transactions(), reason="demo data")
    _announce_step(2, "dataset {}: {} rows, sha256 {}…", data.ref, f"{data.rows:,}", data.sha256[:12])


def _release_baseline(registry: Registry) -> ModelVersion:
    """Step 3: train the baseline from a spec and promote it; with no previous holder, nothing to compare."""
    baseline = train(
        _spec("logistic regression baseline", "sklearn.linear_model.LogisticRegression", {"max_iter": 500}),
        registry=registry,
        progress=False,
    )
    assert baseline.version is not None
    _announce_step(
        3,
        "trained the baseline {} from a spec (5-fold stratified CV, 25% hold-out):",
        baseline.version.ref,
    )
    show_report(baseline.report)
    promote(registry, baseline.version.ref, "production", reason="first release")
    render.message(
        "promoted {} to production (no previous holder: comparisons skipped)", baseline.version.ref
    )
    return baseline.version


def _refuse_weaker_candidate(registry: Registry, baseline: ModelVersion) -> None:
    """Step 4: a decision stump asks for production and the gate refuses it."""
    weaker = train(
        _spec("decision stump", "sklearn.tree.DecisionTreeClassifier", {"max_depth": 1}),
        registry=registry,
        progress=False,
    )
    assert weaker.version is not None
    _announce_step(4, "a weaker candidate, {} (a decision stump), asks for production:", weaker.version.ref)
    try:
        promote(registry, weaker.version.ref, "production")
    except GateFailed as refused:
        if isinstance(refused.report, GateReport):
            show_gate_report(refused.report)
        render.message("[bold red]refused[/]: fraud@production stays on {}", baseline.ref)


def _promote_stronger_candidate(registry: Registry) -> TrainingResult:
    """Step 5: gradient boosting passes the gate and takes production."""
    stronger = train(
        _spec(
            "gradient boosting",
            "sklearn.ensemble.HistGradientBoostingClassifier",
            # Preprocessed columns: amount, hour, account_age_days, then channel's three one-hot columns;
            # risk may only fall as an account ages.
            {"max_iter": 150, "learning_rate": 0.08, "monotonic_cst": [0, 0, -1, 0, 0, 0]},
        ),
        registry=registry,
        progress=False,
    )
    assert stronger.version is not None
    _announce_step(
        5, "a stronger candidate, {} (gradient boosting), asks for production:", stronger.version.ref
    )
    report, change = promote(registry, stronger.version.ref, "production", reason="beats the baseline")
    show_gate_report(report)
    render.message(
        "[bold green]promoted:[/] fraud@production v{} → v{}", change.previous_version, change.version
    )
    return stronger


def _roll_back_and_promote_again(registry: Registry, stronger: TrainingResult) -> None:
    """Step 6: rollback is one call; the promotion back goes through the gate again."""
    assert stronger.version is not None
    rolled = registry.rollback("fraud@production", reason="demo: pretend the new model misbehaves")
    _announce_step(
        6, "rollback in one call: fraud@production v{} → v{}", rolled.previous_version, rolled.version
    )
    promote(registry, stronger.version.ref, "production", reason="demo: incident over, promote again")
    render.message("and promoted again through the gate: fraud@production → {}", stronger.version.ref)


def _check_loaded_model(registry: Registry, stronger: TrainingResult) -> None:
    """Step 7: the model loaded from the registry predicts exactly what the trained model predicted."""
    loaded = registry.load_model("fraud@production")
    holdout = registry.datasets.load(stronger.holdout)[FEATURES]
    same = np.array_equal(loaded.predict(holdout), stronger.model.predict(holdout))
    _announce_step(
        7,
        "loaded fraud@production from the artifact store (hash verified): identical predictions on "
        "{} hold-out rows: {}",
        len(holdout),
        "yes" if same else "NO",
    )
    if not same:
        raise AssertionError("the loaded model does not predict what the trained model predicted")


def _reproduce(registry: Registry, stronger: TrainingResult) -> None:
    """Step 8: retrain the promoted version from its recorded spec and data, and compare the metrics."""
    assert stronger.version is not None
    outcome = reproduce(stronger.version.ref, registry=registry)
    _announce_step(
        8,
        "reproduce {} from its recorded spec and data: metrics match: {}",
        outcome.ref,
        "yes" if outcome.matches else "NO",
    )


def _show_versions_and_audit(registry: Registry) -> None:
    """Every version of fraud with its aliases and metrics, then the audit trail of the alias moves."""
    render.table(
        "versions of fraud",
        ["version", "aliases", "candidate", "roc_auc (hold-out)", "cv roc_auc"],
        [
            (
                v.version,
                v.aliases,
                v.tags.get("candidate"),
                v.metrics.get("roc_auc"),
                f"{v.metrics.get('cv_roc_auc_mean', 0):.4f} ± {v.metrics.get('cv_roc_auc_std', 0):.4f}",
            )
            for v in registry.list_versions("fraud")
        ],
    )
    render.audit_table("audit trail", registry.audit(model="fraud"))
