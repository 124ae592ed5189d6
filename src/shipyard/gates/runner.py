"""Running a gate and promoting through it.

``check_gate`` judges a candidate version against the policy for a target alias and the version that holds
that alias now (the champion), and stores the run with the version. ``promote`` runs the same gate and
moves the alias only when every check passes — or, with ``force`` and a reason, anyway, leaving an audit
entry that says so. The alias move checks that the champion did not change while the gate ran.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from shipyard.contracts import Contract
from shipyard.errors import GateError, GateFailed, InvalidInput, NotFound, ShipyardError
from shipyard.gates import checks
from shipyard.gates.evaluation import Evaluation, Scored
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
    results += checks.check_schema(candidate, champion, rules)

    data_ref, evaluation, schema_results = _evaluation(registry, candidate, champion, rules, notes)
    results += schema_results
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
    """Load the evaluation rows both models can score, and score them with both."""
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

    usable = np.ones(len(frame), dtype=bool)
    results: list[CheckResult] = []
    for role, version in (("candidate", candidate), ("champion", champion)):
        if version is None or version.input_schema is None:
            continue
        outcome = Contract.from_dict(version.input_schema).validate(frame, mode="split")
        if outcome.ok:
            continue
        bad = outcome.problems[outcome.problems["row"] >= 0]["row"].unique()
        whole = outcome.problems[outcome.problems["row"] < 0]
        if len(whole):
            results.append(
                CheckResult(
                    f"{role} can score the evaluation data",
                    "fail",
                    outcome.summary(limit=3),
                    f"{version.ref}'s contract",
                    "comparison checks are skipped",
                )
            )
            return data_ref, None, results
        usable[bad] = False
        notes.append(f"{len(bad)} evaluation row(s) break {version.ref}'s contract and are left out")
    frame = frame[usable].reset_index(drop=True)
    if frame.empty:
        raise GateError(f"no row of {data_ref} meets the contracts of both models")
    features = [str(name) for name in training.get("features") or candidate.info.feature_names or []]
    try:
        candidate_scored = Scored.score(registry.load_model(candidate.ref), frame[features], task)
        champion_scored = None
        if champion is not None:
            champion_features = (champion.training or {}).get("report", {}).get("features") or features
            champion_scored = Scored.score(registry.load_model(champion.ref), frame[champion_features], task)
    except ShipyardError as exc:
        raise GateError(f"the gate could not score the evaluation data: {exc}") from None
    evaluation = Evaluation(
        task, features, frame, frame[target].to_numpy(), candidate_scored, champion_scored
    )
    return data_ref, evaluation, results


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
