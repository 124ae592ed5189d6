"""The checks a gate runs. Each takes what it needs and returns ``CheckResult`` rows; none raises for a
model that merely does badly — failing is a result, not an exception."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from shipyard.contracts import Contract, breaking_changes
from shipyard.errors import GateError, IntegrityError
from shipyard.flavors.base import LoadedModel
from shipyard.gates.evaluation import Evaluation, Scored, score_vector
from shipyard.gates.policy import GatePolicy
from shipyard.gates.report import CheckResult, Status
from shipyard.registry import ModelVersion, Registry
from shipyard.stats import paired_bootstrap
from shipyard.training.estimators import import_object
from shipyard.training.metrics import get_metric

_SHOWN = 3
_ERROR_LIMIT = 300


def passed(ok: bool) -> Status:
    return "pass" if ok else "fail"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def check_artifact(registry: Registry, candidate: ModelVersion, policy: GatePolicy) -> list[CheckResult]:
    results = []
    try:
        registry.verify(candidate.ref)
        results.append(CheckResult("artifact integrity", "pass", f"sha256 {candidate.artifact_sha256[:12]}…"))
    except IntegrityError as exc:
        results.append(CheckResult("artifact integrity", "fail", detail=str(exc)))
    size_mb = candidate.artifact_size / 1_000_000
    limit = policy.artifact.max_size_mb
    if limit is None:
        results.append(CheckResult("artifact size", "pass", f"{size_mb:.3f} MB", "no limit"))
    else:
        status = passed(size_mb <= limit)
        results.append(CheckResult("artifact size", status, f"{size_mb:.3f} MB", f"<= {limit:g} MB"))
    return results


def check_schema(
    candidate: ModelVersion, champion: ModelVersion | None, policy: GatePolicy
) -> list[CheckResult]:
    if not policy.schema_compatibility:
        return []
    if champion is None:
        return [CheckResult("schema compatibility", "skip", detail="no current alias holder to compare with")]
    if candidate.input_schema is None or champion.input_schema is None:
        missing = candidate.ref if candidate.input_schema is None else champion.ref
        return [CheckResult("schema compatibility", "skip", detail=f"{missing} has no data contract")]
    changes = breaking_changes(
        Contract.from_dict(champion.input_schema), Contract.from_dict(candidate.input_schema)
    )
    if not changes:
        return [
            CheckResult(
                "schema compatibility", "pass", "no breaking change", f"compatible with {champion.ref}"
            )
        ]
    return [
        CheckResult(
            "schema compatibility",
            "fail",
            f"{len(changes)} breaking change(s)",
            f"compatible with {champion.ref}",
            "; ".join(changes),
        )
    ]


def check_metrics(evaluation: Evaluation, policy: GatePolicy) -> list[CheckResult]:
    results = []
    for name, threshold in policy.metrics.items():
        value = evaluation.metric(evaluation.candidate, name)
        if value is None:
            results.append(
                CheckResult(f"metric {name}", "fail", "n/a", str(threshold), "undefined on this data")
            )
            continue
        status = passed(threshold.holds(value))
        results.append(CheckResult(f"metric {name}", status, _number(value), str(threshold)))
    return results


def not_comparable(check: str, evaluation: Evaluation, policy: GatePolicy) -> CheckResult:
    """A comparison the current alias holder cannot take part in: failed, or skipped if the policy says so."""
    return CheckResult(check, policy.not_comparable, detail=f"not comparable: {evaluation.not_comparable}")


def primary_metric(task: str) -> str:
    return "roc_auc" if task == "classification" else "rmse"


def check_regression(
    evaluation: Evaluation, policy: GatePolicy, champion: ModelVersion | None
) -> list[CheckResult]:
    rules = policy.regression
    if rules is None:
        return []
    names = rules.metrics or [primary_metric(evaluation.task)]
    if champion is None:
        return [
            CheckResult(f"no regression: {name}", "skip", detail="no current alias holder to compare with")
            for name in names
        ]
    if evaluation.champion is None:
        return [not_comparable(f"no regression: {name}", evaluation, policy) for name in names]
    results = []
    for name in names:
        metric = get_metric(name)
        mine = evaluation.metric(evaluation.candidate, name)
        theirs = evaluation.metric(evaluation.champion, name)
        if mine is None or theirs is None:
            results.append(
                CheckResult(f"no regression: {name}", "skip", detail="metric undefined on this data")
            )
            continue
        allowed = rules.tolerance * abs(theirs) if rules.relative else rules.tolerance
        # "worse" is lower for greater-is-better metrics, higher otherwise; normalise to "gain".
        sign = 1.0 if metric.greater_is_better else -1.0
        gain = sign * (mine - theirs)
        threshold = f"not worse than {champion.ref} ({_number(theirs)}) by more than {allowed:.4g}"
        measured = f"{_number(mine)} ({gain:+.4g} vs champion)"
        if rules.bootstrap is None:
            status = passed(gain >= -allowed)
            results.append(CheckResult(f"no regression: {name}", status, measured, threshold))
            continue
        interval = paired_bootstrap(
            _row_metric(evaluation, evaluation.candidate, name),
            _row_metric(evaluation, evaluation.champion, name),
            evaluation.rows,
            samples=rules.bootstrap.samples,
            confidence=rules.bootstrap.confidence,
        )
        if interval is None:
            results.append(
                CheckResult(f"no regression: {name}", "skip", detail="bootstrap undefined on this data")
            )
            continue
        low, high = sorted((sign * interval.low, sign * interval.high))
        status = passed(high >= -allowed)  # a regression only when the whole interval is worse
        detail = (
            f"{interval.confidence:.0%} interval of the gain: [{low:+.4g}, {high:+.4g}] "
            f"({interval.samples} samples)"
        )
        results.append(CheckResult(f"no regression: {name}", status, measured, threshold, detail))
    return results


def _row_metric(evaluation: Evaluation, scored: Scored, name: str) -> Callable[[np.ndarray], float | None]:
    def metric(rows: np.ndarray) -> float | None:
        return evaluation.metric(scored, name, rows)

    return metric


def check_slices(
    evaluation: Evaluation, policy: GatePolicy, columns: list[str], champion: ModelVersion | None
) -> list[CheckResult]:
    rules = policy.slices
    if rules is None:
        return []
    results = []
    compare = rules.metrics or ([primary_metric(evaluation.task)] if rules.tolerance is not None else [])
    for column in columns:
        values = evaluation.frame[column]
        segments = values.astype(object).where(values.notna(), "<missing>")
        if pd.api.types.is_numeric_dtype(values) and values.nunique() > 20:
            segments = pd.qcut(values, q=4, duplicates="drop").astype(str)
        for segment in sorted(segments.unique(), key=str):
            rows = np.flatnonzero((segments == segment).to_numpy())
            label = f"slice {column} = {segment}"
            if len(rows) < rules.min_rows:
                results.append(CheckResult(label, "skip", f"{len(rows)} rows", f">= {rules.min_rows} rows"))
                continue
            for name, floor in rules.floor.items():
                value = evaluation.metric(evaluation.candidate, name, rows)
                better = get_metric(name).greater_is_better
                ok = value is not None and (value >= floor if better else value <= floor)
                bound = f"{'>=' if better else '<='} {floor:g}"
                results.append(CheckResult(f"{label}: {name}", passed(ok), _number(value), bound))
            if rules.tolerance is None:
                continue
            if champion is None:
                results.append(CheckResult(f"{label}: vs champion", "skip", detail="no current alias holder"))
                continue
            if evaluation.champion is None:
                results.append(not_comparable(f"{label}: vs champion", evaluation, policy))
                continue
            for name in compare:
                mine = evaluation.metric(evaluation.candidate, name, rows)
                theirs = evaluation.metric(evaluation.champion, name, rows)
                if mine is None or theirs is None:
                    results.append(CheckResult(f"{label}: {name} vs champion", "skip", detail="undefined"))
                    continue
                gain = (mine - theirs) * (1.0 if get_metric(name).greater_is_better else -1.0)
                status = passed(gain >= -rules.tolerance)
                results.append(
                    CheckResult(
                        f"{label}: {name} vs champion",
                        status,
                        f"{_number(mine)} ({gain:+.4g})",
                        f"not worse than {champion.ref} by more than {rules.tolerance:g}",
                    )
                )
    return results


def check_invariance(evaluation: Evaluation, policy: GatePolicy) -> list[CheckResult]:
    if not policy.invariance:
        return []
    frame, columns, task = evaluation.frame, evaluation.features, evaluation.task
    model = evaluation.candidate.model
    try:
        base = score_vector(model, frame[columns], task)
    except Exception as exc:
        return [raised(f"invariance: {rule.column}", exc) for rule in policy.invariance]
    results = []
    generator = np.random.default_rng(0)
    for rule in policy.invariance:
        variants = []
        if rule.values is None:
            shuffled = frame.copy()
            shuffled[rule.column] = generator.permutation(shuffled[rule.column].to_numpy())
            variants.append(shuffled)
        else:
            for value in rule.values:
                changed = frame.copy()
                changed[rule.column] = value
                variants.append(changed)
        try:
            change = max(
                float(np.max(np.abs(score_vector(model, variant[columns], task) - base), initial=0.0))
                for variant in variants
            )
        except Exception as exc:  # the model refusing the changed rows fails this check, not the gate
            results.append(raised(f"invariance: {rule.column}", exc))
            continue
        status = passed(change <= rule.epsilon)
        results.append(
            CheckResult(
                f"invariance: {rule.column}", status, f"max change {change:.3g}", f"<= {rule.epsilon:g}"
            )
        )
    return results


def check_directional(evaluation: Evaluation, policy: GatePolicy) -> list[CheckResult]:
    if not policy.directional:
        return []
    frame, columns, task = evaluation.frame, evaluation.features, evaluation.task
    model = evaluation.candidate.model
    names = [f"directional: {rule.column} +{rule.delta:g} {rule.direction}" for rule in policy.directional]
    try:
        base = score_vector(model, frame[columns], task)
    except Exception as exc:
        return [raised(name, exc) for name in names]
    results = []
    for name, rule in zip(names, policy.directional, strict=True):
        try:
            raised_frame = frame.copy()
            raised_frame[rule.column] = raised_frame[rule.column] + rule.delta
            moved = score_vector(model, raised_frame[columns], task) - base
        except Exception as exc:  # a text column, or a model refusing the changed rows: this check fails
            results.append(raised(name, exc))
            continue
        wrong = moved < -rule.tolerance if rule.direction == "increasing" else moved > rule.tolerance
        share = float(wrong.mean()) if len(wrong) else 0.0
        status = passed(not wrong.any())
        verb = "lowered" if rule.direction == "increasing" else "raised"
        results.append(
            CheckResult(name, status, f"{int(wrong.sum())} rows ({share:.1%}) {verb} the score", "0 rows")
        )
    return results


def raised(check: str, error: Exception) -> CheckResult:
    """A check the model (or the data it was given) raised in: failed, with the error in one line."""
    text = " ".join(str(error).split())
    if len(text) > _ERROR_LIMIT:
        text = text[: _ERROR_LIMIT - 1] + "…"
    return CheckResult(check, "fail", detail=f"raised {type(error).__name__}: {text}")


def check_user_tests(evaluation: Evaluation, policy: GatePolicy) -> list[CheckResult]:
    """Run the user's functions ``fn(model, data) -> bool | None``; an AssertionError or False fails."""
    results = []
    data = evaluation.frame
    for path in policy.tests:
        try:
            function = import_object(path)
        except Exception as exc:
            raise GateError(f"gate test {path!r} cannot be imported: {exc}") from None
        try:
            outcome: Any = function(evaluation.candidate.model, data)
        except AssertionError as exc:
            results.append(CheckResult(f"test {path}", "fail", detail=str(exc) or "assertion failed"))
            continue
        except Exception as exc:
            results.append(raised(f"test {path}", exc))
            continue
        status = passed(outcome is not False)
        results.append(
            CheckResult(f"test {path}", status, detail="" if status == "pass" else "returned False")
        )
    return results


def check_latency(evaluation: Evaluation, policy: GatePolicy) -> list[CheckResult]:
    rules = policy.latency
    features = evaluation.frame[evaluation.features]
    model = evaluation.candidate.model
    if features.empty:
        return [CheckResult("latency", "skip", detail="no rows to time")]
    batch = features.iloc[np.arange(rules.batch_rows) % len(features)]
    single = [features.iloc[[i % len(features)]] for i in range(rules.repeats)]
    try:
        timings, batch_timings = _timings(model, single, batch)
    except Exception as exc:  # a model that scores the whole set but not one row (or a small batch)
        return [raised("latency", exc)]
    p99_single = float(np.percentile(timings, 99) * 1000)
    p99_batch = float(np.percentile(batch_timings, 99) * 1000)
    return [
        _latency_result("latency p99, 1 row", p99_single, rules.p99_single_ms),
        _latency_result(f"latency p99, {rules.batch_rows} rows", p99_batch, rules.p99_batch_ms),
    ]


def _timings(
    model: LoadedModel, single: list[pd.DataFrame], batch: pd.DataFrame
) -> tuple[list[float], list[float]]:
    """Seconds per single-row call and per batch call."""
    timings = []
    batch_timings = []
    # One thread, as a server worker predicts: OpenMP teams spinning up per call (and competing with other
    # processes) would measure the thread pool, not the model.
    with threadpool_limits(limits=1):
        model.predict(single[0])  # warm-up: first calls pay one-off costs that requests do not
        for row in single:
            started = time.perf_counter()
            model.predict(row)
            timings.append(time.perf_counter() - started)
        for _ in range(max(10, len(single) // 10)):
            started = time.perf_counter()
            model.predict(batch)
            batch_timings.append(time.perf_counter() - started)
    return timings, batch_timings


def _latency_result(name: str, measured: float, budget: float | None) -> CheckResult:
    if budget is None:
        return CheckResult(name, "pass", f"{measured:.2f} ms", "no budget")
    return CheckResult(name, passed(measured <= budget), f"{measured:.2f} ms", f"<= {budget:g} ms")
