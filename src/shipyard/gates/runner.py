"""Running a gate and promoting through it.

``check_gate`` judges a candidate version against the policy for a target alias and the version that holds
that alias now (the champion), and stores the run with the version. ``promote`` runs the same gate and
moves the alias only when every check passes — or, with ``force`` and a reason, anyway, leaving an audit
entry that says so. The alias move checks that the champion did not change while the gate ran. A model's
error while scoring (the candidate's or the champion's) is a check result, never an exception.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from shipyard.errors import GateError, GateFailed, InvalidInput, NotFound, ShipyardError
from shipyard.gates import checks
from shipyard.gates.champion import score_champion
from shipyard.gates.evaluation import Evaluation, Scored, rows_accepted
from shipyard.gates.policy import GatePolicy, load_policy
from shipyard.gates.report import CheckResult, GateReport
from shipyard.refs import ModelRef, validate_alias
from shipyard.registry import AliasChange, ModelVersion, Registry
from shipyard.store.gate_runs import GateRun, GateRunRepository


def check_gate(
    registry: Registry,
    ref: str,
    to: str,
    *,
    policy: GatePolicy | None = None,
    policy_file: Path | None = None,
) -> GateReport:
    """Run the gate for ``ref`` → ``to`` and record the run. Raises GateError when it cannot run."""
    report, candidate, champion = _evaluate(registry, ref, to, policy=policy, policy_file=policy_file)
    _save_gate_run(registry, candidate, to, champion, report, promoted=False, forced=False)
    return report


def promote(
    registry: Registry,
    ref: str,
    to: str,
    *,
    force: bool = False,
    reason: str = "",
    policy: GatePolicy | None = None,
    policy_file: Path | None = None,
) -> tuple[GateReport, AliasChange]:
    """Gate ``ref`` for ``to`` and move the alias if it passes (or if forced, with a reason)."""
    if force and not reason.strip():
        raise InvalidInput(
            'a forced promotion needs a reason (--reason "…"); it is written to the audit trail'
        )
    report, candidate, champion = _evaluate(registry, ref, to, policy=policy, policy_file=policy_file)
    if not report.passed and not force:
        _save_gate_run(registry, candidate, to, champion, report, promoted=False, forced=False)
        raise GateFailed(report.summary() + f"; see 'shipyard gate check {candidate.ref} --to {to}'", report)
    if report.passed:
        action, why = "promote", reason or f"gate passed ({len(report.results)} checks)"
    else:
        failed = ", ".join(result.check for result in report.failures)
        action, why = "promote.forced", f"FORCED past failed checks ({failed}): {reason}"
    change = registry.set_alias(
        candidate.model,
        to,
        candidate.version,
        reason=why,
        action=action,
        expect_current=champion.version if champion else None,
    )
    _save_gate_run(registry, candidate, to, champion, report, promoted=True, forced=not report.passed)
    return report, change


def gate_runs(registry: Registry, ref: str) -> list[dict[str, Any]]:
    """Every gate run of a version, oldest first, as stored (``report`` holds the full GateReport dict)."""
    version = registry.resolve(ref)
    runs = GateRunRepository(registry.db).of_version(version.model, version.version)
    return [run.to_dict() for run in runs]


def _evaluate(
    registry: Registry, ref: str, to: str, *, policy: GatePolicy | None, policy_file: Path | None
) -> tuple[GateReport, ModelVersion, ModelVersion | None]:
    validate_alias(to)
    candidate = registry.resolve(ref)
    try:
        champion: ModelVersion | None = registry.resolve(ModelRef(candidate.model, alias=to))
    except NotFound:
        champion = None
    if champion is not None and champion.version == candidate.version:
        raise GateError(f"{candidate.ref} already holds {candidate.model}@{to}; there is nothing to promote")
    rules = policy or load_policy(registry.settings, candidate.model, to, policy_file=policy_file)
    notes: list[str] = []
    if champion is None:
        notes.append(f"{candidate.model}@{to} has no holder yet: comparison checks are skipped")

    results: list[CheckResult] = checks.check_artifact(registry, candidate, rules)
    if any(result.status == "fail" for result in results[:1]):
        report = GateReport(candidate.ref, to, None, rules.source, None, 0, results, notes)
        return report, candidate, champion
    # The schema is judged before any row is scored: a changed schema is reported as such, and a champion
    # that cannot read the candidate's rows makes the comparisons "not comparable", not the gate crash.
    results += checks.check_schema(candidate, champion, rules)

    data_ref, evaluation, scoring_results = _evaluation(registry, candidate, champion, rules, notes)
    results += scoring_results
    if evaluation is not None:
        slice_columns = _slice_columns(candidate, rules, evaluation)
        results += checks.check_metrics(evaluation, rules)
        results += checks.check_regression(evaluation, rules, champion)
        results += checks.check_slices(evaluation, rules, slice_columns, champion)
        results += checks.check_invariance(evaluation, rules)
        results += checks.check_directional(evaluation, rules)
        results += checks.check_user_tests(evaluation, rules)
        results += checks.check_latency(evaluation, rules)
    rows = evaluation.rows if evaluation is not None else 0
    return (
        GateReport(
            candidate.ref,
            to,
            champion.ref if champion else None,
            rules.source,
            data_ref,
            rows,
            results,
            notes,
        ),
        candidate,
        champion,
    )


def _evaluation(
    registry: Registry,
    candidate: ModelVersion,
    champion: ModelVersion | None,
    rules: GatePolicy,
    notes: list[str],
) -> tuple[str | None, Evaluation | None, list[CheckResult]]:
    """Score the evaluation rows with the candidate and, where it can, with the champion on the same rows."""
    data_ref, frame, target, task = _evaluation_data(registry, candidate, rules)
    accepted = rows_accepted(candidate.input_schema, frame)
    if accepted.whole:
        return data_ref, None, [_cannot_score(accepted.summary, f"{candidate.ref}'s contract")]
    if accepted.left_out:
        count = accepted.left_out
        notes.append(f"{count} evaluation row(s) break {candidate.ref}'s contract and are left out")
    frame = frame[accepted.usable].reset_index(drop=True)
    if frame.empty:
        raise GateError(f"no row of {data_ref} meets {candidate.ref}'s contract: {accepted.summary}")
    training = (candidate.training or {}).get("report", {})
    features = [str(name) for name in training.get("features") or candidate.info.feature_names or []]
    scored = _score_candidate(registry, candidate, frame, features, task)
    if isinstance(scored, CheckResult):
        return data_ref, None, [scored]
    targets = frame[target].to_numpy()
    if champion is None:
        return data_ref, Evaluation(task, features, frame, targets, scored, None), []
    compared = _compared_metrics(rules, task)
    side = score_champion(
        registry, champion, frame, targets, task, candidate_features=features, metrics=compared
    )
    if side.scored is None:
        outcome = "fail" if rules.not_comparable == "fail" else "are skipped"
        notes.append(
            f"{champion.ref} cannot be compared with {candidate.ref}: {side.reason}; comparison checks "
            f'{outcome} (policy: not_comparable = "{rules.not_comparable}")'
        )
        return data_ref, Evaluation(task, features, frame, targets, scored, None, side.reason), []
    if side.left_out:
        notes.append(f"{side.left_out} evaluation row(s) break {champion.ref}'s contract and are left out")
    paired = frame.iloc[side.rows].reset_index(drop=True)
    evaluation = Evaluation(task, features, paired, targets[side.rows], scored.take(side.rows), side.scored)
    return data_ref, evaluation, []


def _evaluation_data(
    registry: Registry, candidate: ModelVersion, rules: GatePolicy
) -> tuple[str, pd.DataFrame, str, str]:
    """The evaluation rows (the policy's dataset or the candidate's hold-out), target column and task."""
    training = (candidate.training or {}).get("report", {})
    data_ref = rules.evaluation_data or (training.get("datasets") or {}).get("holdout")
    if data_ref is None:
        raise GateError(
            f"{candidate.ref} has no hold-out data (it was not trained with 'shipyard train'); "
            "name a dataset version with evaluation_data in the gate policy"
        )
    target = training.get("target")
    task = training.get("task") or candidate.info.task
    frame = registry.datasets.load(data_ref).reset_index(drop=True)
    if target is None or target not in frame.columns:
        raise GateError(f"evaluation data {data_ref} has no target column {target!r} for {candidate.ref}")
    _check_policy_columns(rules, candidate, frame)
    return data_ref, frame, str(target), str(task)


def _score_candidate(
    registry: Registry, candidate: ModelVersion, frame: pd.DataFrame, features: list[str], task: str
) -> Scored | CheckResult:
    """The candidate's predictions, or the failed check saying why it has none (its error, not a crash)."""
    missing = [name for name in features if name not in frame.columns]
    if missing:
        return _cannot_score(f"no column(s) {', '.join(missing)}", f"the columns {candidate.ref} takes")
    try:
        model = registry.load_model(candidate.ref)
    except ShipyardError as exc:  # needs trust, or its bytes changed: the gate cannot judge it at all
        raise GateError(f"the gate could not load {candidate.ref}: {exc}") from None
    except Exception as exc:
        return _cannot_score(f"{type(exc).__name__} while loading", f"{candidate.ref} loads", exc)
    try:
        return Scored.score(model, frame[features], task)
    except Exception as exc:  # whatever the model raises is its failure to score these rows
        return _cannot_score(f"{type(exc).__name__} while predicting", f"{candidate.ref} predicts", exc)


def _cannot_score(measured: str, threshold: str, error: Exception | None = None) -> CheckResult:
    detail = "the checks that need its predictions are skipped"
    if error is not None:
        text = " ".join(str(error).split())[:300]
        detail = f"{type(error).__name__}: {text}; {detail}"
    return CheckResult("candidate can score the evaluation data", "fail", measured, threshold, detail)


def _compared_metrics(rules: GatePolicy, task: str) -> list[str]:
    """The metrics the comparison checks compute on the champion's predictions."""
    names = []
    if rules.regression is not None:
        names += rules.regression.metrics or [checks.primary_metric(task)]
    if rules.slices is not None and rules.slices.tolerance is not None:
        names += rules.slices.metrics or [checks.primary_metric(task)]
    return list(dict.fromkeys(names))


def _check_policy_columns(rules: GatePolicy, candidate: ModelVersion, frame: Any) -> None:
    """Columns a policy names must exist: say which exist, before any check runs."""
    named = [rule.column for rule in rules.invariance] + [rule.column for rule in rules.directional]
    if rules.slices:
        named += rules.slices.columns
    missing = sorted({name for name in named if name not in frame.columns})
    if missing:
        raise GateError(
            f"gate policy for {candidate.ref} names unknown column(s) {', '.join(missing)}; "
            f"the evaluation data has: {', '.join(map(str, frame.columns))}"
        )


def _slice_columns(candidate: ModelVersion, rules: GatePolicy, evaluation: Evaluation) -> list[str]:
    if rules.slices is None:
        return []
    if rules.slices.columns:
        return rules.slices.columns
    spec = (candidate.training or {}).get("spec", {})
    return [
        column for column in (spec.get("evaluation") or {}).get("slices", []) if column in evaluation.frame
    ]


def _save_gate_run(
    registry: Registry,
    candidate: ModelVersion,
    alias: str,
    champion: ModelVersion | None,
    report: GateReport,
    *,
    promoted: bool,
    forced: bool,
) -> None:
    """Keep the run with the candidate version: what it found, and whether it moved the alias."""
    GateRunRepository(registry.db).add(
        GateRun(
            model=candidate.model,
            version=candidate.version,
            alias=alias,
            champion=champion.version if champion else None,
            passed=report.passed,
            promoted=promoted,
            forced=forced,
            report=report.to_dict(),
            at=datetime.now(UTC),
            actor=registry.actor,
        )
    )
