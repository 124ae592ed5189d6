"""The demo's retraining chapter: the loop closes on its own.

The drifted world of the monitoring chapter comes back, and this time it stays. ``shipyard.toml`` holds a
retraining policy for fraud: when the drift alert fires, train the production spec on the labelled
prediction log of the last hour, gate the result against production, and roll it out as a canary judged
by accuracy on the labels that come back. After the traffic, nothing is called by hand: the alert
evaluator (as the monitoring runner runs it) fires, the retraining watcher (as ``shipyard serve`` runs it
beside the server) sees the firing and runs the policy, the engine follows the canary's split, the
controller judges each step on the late labels, and the monitors show accuracy coming back.

Time is compressed as in the chapters before: the drifted hour is replayed into the log two hours ahead
of now (clear of every earlier chapter's traffic), and the alert and the watcher are asked to look as of
that hour; the canary's steps are judged as of one interval after each began.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pandas as pd

from shipyard.alerts import AlertEvaluator, load_alerts
from shipyard.cli import render
from shipyard.cli.demo.alerting import incident_webhook, point_channel_at, show_outcomes
from shipyard.cli.demo.rollouts import serving
from shipyard.cli.demo.traffic import FEATURES, SEED, make_changed, replay
from shipyard.config import CONFIG_FILE
from shipyard.monitoring import attach_labels
from shipyard.monitoring.series import run_monitors
from shipyard.monitoring.windows import WindowResult
from shipyard.predictions import LogWriter, PredictionLog
from shipyard.registry import ModelVersion, Registry
from shipyard.retrain_runner import RetrainRunner, RetrainRunnerConfig
from shipyard.rollouts.service import Rollout, get
from shipyard.store.retrain_runs import RetrainRunRecord

SPEC_FILE = "retrain-fraud.toml"
#: Production's recipe; the policy replaces its [data] with the fresh labelled rows of the log.
_SPEC = f"""\
model = "fraud"
seed = {SEED}
description = "Gradient boosting, retrained on production's labelled traffic."

[data]
dataset = "transactions"
target = "fraud"
features = {FEATURES!r}

[estimator]
class = "sklearn.ensemble.HistGradientBoostingClassifier"
params = {{ max_iter = 150, learning_rate = 0.08, monotonic_cst = [0, 0, -1, 0, 0, 0] }}

[cv]
strategy = "stratified"
folds = 5

[evaluation]
holdout = 0.25
slices = ["channel"]
min_slice_rows = 50
"""
_POLICY = f"""
[retraining.fraud]
spec = "{SPEC_FILE}"
window = "1h"
data = {{ source = "log", labelled = true }}
then = "rollout"

[retraining.fraud.triggers]
alerts = ["fraud:dataset-drift"]

[retraining.fraud.guards]
min_rows = 1000
cooldown = "1h"

[retraining.fraud.rollout]
strategy = "canary"
steps = [20, 50, 100]
interval = "10m"
min_requests = 50
routing_key = "header:X-Customer-Id"

# A retrained model is meant to answer differently, so prediction drift between the arms is no reason to
# stop it: the late labels judge it (accuracy may not fall more than 2 points below production's).
[retraining.fraud.rollout.checks]
latency_p99 = {{ enabled = false }}
prediction_drift = {{ enabled = false }}
accuracy = {{ threshold = 0.02 }}
"""
#: Requests (of five rows) each canary step gets: enough labelled rows on both arms for the accuracy check.
_REQUESTS_AT = {0.2: 400, 0.5: 160, 1.0: 80}
_HOUR = timedelta(hours=1)


def retraining_story(registry: Registry, step: Callable[..., None]) -> RetrainRunRecord:
    """Steps 18 to 22; ``step`` prints a step's numbered heading. Returns the retraining run."""
    home = registry.settings.home
    (home / SPEC_FILE).write_text(_SPEC, encoding="utf-8")
    config = home / CONFIG_FILE
    config.write_text(config.read_text(encoding="utf-8") + _POLICY, encoding="utf-8")
    drifted_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + 2 * _HOUR
    champion = registry.resolve("fraud@production")
    step(
        18,
        "the world changes again and stays changed; shipyard.toml now holds a retraining policy for "
        "fraud (train {} on the labelled log when the drift alert fires, gate, canary judged by "
        "accuracy). An hour of the new traffic goes through {}, and its labels come back:",
        SPEC_FILE,
        champion.ref,
    )
    log = PredictionLog(registry.settings.log_url)
    _replay_labelled(registry, champion, make_changed(3000, seed=SEED + 500), drifted_hour)
    before = run_monitors(registry, log, [champion], drifted_hour, drifted_hour + _HOUR, _HOUR)[0]
    with incident_webhook() as url:
        point_channel_at(registry, url)
        evaluator = AlertEvaluator(registry, load_alerts(registry.settings, registry, ["fraud@production"]))
        step(19, "the alert rules, evaluated as that hour ends:")
        show_outcomes(evaluator.evaluate(drifted_hour + 50 * timedelta(minutes=1)))
        run = _watch(registry, step, since=drifted_hour, now=drifted_hour + 55 * timedelta(minutes=1))
        rollout = asyncio.run(_canary(registry, step, run))
    if rollout.state != "promoted":
        raise AssertionError(f"the retrained version's canary ended {rollout.state}: {rollout.reason}")
    _recovered(registry, step, before, drifted_hour + _HOUR)
    return run


def _replay_labelled(registry: Registry, version: ModelVersion, frame: pd.DataFrame, at: datetime) -> None:
    """Predict ``frame`` through ``version`` as the server would (logged at ``at``), then its labels."""
    writer = LogWriter(registry.settings.log_url, flush_seconds=3600)
    ids = replay(registry, version.ref, frame, at + 5 * timedelta(minutes=1), writer)
    writer.close()
    labels = zip(ids, frame["fraud"].astype(int).tolist(), strict=True)
    attach_labels(registry, PredictionLog(registry.settings.log_url), labels, source="demo", settle_seconds=0)


def _watch(
    registry: Registry, step: Callable[..., None], *, since: datetime, now: datetime
) -> RetrainRunRecord:
    """One look of the retraining watcher at the triggers: the drift alert's firing starts the run."""
    runner = RetrainRunner(registry.settings, RetrainRunnerConfig(since=since))
    started = time.perf_counter()
    runs = runner.run_once(now=now)
    seconds = time.perf_counter() - started
    if len(runs) != 1 or runs[0].state != "succeeded":
        raise AssertionError(f"the drift alert did not start one successful retraining run: {runs}")
    run = runs[0]
    details = run.details
    step(
        20,
        "the retraining watcher (as 'shipyard serve' runs it beside the server) saw {} fire and ran the "
        "policy, run {} in {} s:",
        run.trigger_detail.get("rule", run.trigger),
        run.id,
        f"{seconds:.1f}",
    )
    render.message("  data: {} labelled rows from the log → {}", details.get("rows"), details.get("dataset"))
    render.message("  train: {} (hold-out roc_auc {})", details.get("candidate"), _auc(details))
    render.message("  gate: {}", (details.get("gate") or {}).get("summary"))
    render.message("  then: {}", run.reason)
    return run


def _auc(details: dict[str, object]) -> str:
    metrics = details.get("metrics")
    value = metrics.get("roc_auc") if isinstance(metrics, dict) else None
    return f"{value:.3f}" if isinstance(value, float) else "n/a"


async def _canary(registry: Registry, step: Callable[..., None], run: RetrainRunRecord) -> Rollout:
    """Serve the new traffic through the canary the run started, its labels arriving before each step is
    judged, until the controller ends it."""
    rollout = get(registry, int(run.details["rollout"]))
    step(
        21,
        "rollout {}: fraud/{} takes 20 → 50 → 100% of the new traffic, each step judged on its labels:",
        rollout.id,
        rollout.candidate,
    )
    rows = make_changed(20_000, seed=SEED + 600)
    async with serving(registry, rows, _REQUESTS_AT) as server:
        ended = await server.follow(rollout)
    move = registry.alias_history("fraud", "production")[-1]
    render.message("fraud@production → v{}: {}", move.version, move.reason)
    return ended


def _recovered(registry: Registry, step: Callable[..., None], before: WindowResult, hour: datetime) -> None:
    """The next hour of the new traffic through the retrained production, monitored with its labels."""
    from shipyard.cli.monitor import print_windows

    retrained = registry.resolve("fraud@production")
    _replay_labelled(registry, retrained, make_changed(3000, seed=SEED + 700), hour)
    log = PredictionLog(registry.settings.log_url)
    after = run_monitors(registry, log, [retrained], hour, hour + _HOUR, _HOUR)[0]
    step(22, "the monitors, the hour before the retraining and the hour after:")
    print_windows([before.to_dict(), after.to_dict()])
    was, now = before.accuracy.get("accuracy"), after.accuracy.get("accuracy")
    render.message(
        "accuracy on the new traffic: {} ({}) → {} ({}), with no command typed",
        f"{was:.3f}" if was is not None else "n/a",
        f"fraud/{before.version}",
        f"{now:.3f}" if now is not None else "n/a",
        retrained.ref,
    )
    if was is None or now is None or now < was + 0.05:
        raise AssertionError("accuracy did not recover after the retraining")
