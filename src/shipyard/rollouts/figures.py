"""What each arm of a rollout did over a time range, read from the prediction log: the figures ``analyse``
judges.

An arm is a version and the arm name its rows were logged with: ``stable`` is the stable version's rows
logged as ``stable``; ``canary`` (canary, A/B, blue-green) and ``shadow`` are the candidate's rows logged
with that arm. From the predictions stream: answered requests, rows, p99 latency (one per request, as the
monitors count it), predictions and a binary classifier's score; from the failures stream: errors (5xx) and
requests the data contract refused (``rejected``, with their rows); from the labels the feedback service
attached: labelled rows and how many the arm predicted right.

Shadow answers keep the mirrored request's id and their prediction ids are the stable answer's with
``-shadow`` appended (see ``predictions.records``), so :func:`pair_figures` joins each shadow answer with the
stable answer to the same row, and a label sent for the id the client saw also judges the shadow answer.

Counts are of logged requests: with a sampled log both arms are sampled alike, so the shares compared
stay right. Predictions and scores are kept up to ``MAX_VALUES`` per arm (a uniform sample beyond).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.monitoring.feedback import labels_for
from shipyard.monitoring.service import SERVER_ERROR
from shipyard.predictions import PredictionLog
from shipyard.registry import Registry
from shipyard.rollouts.analysis import ArmFigures, PairFigures
from shipyard.stats.quantiles import StreamPercentiles

#: What a shadow answer's prediction ids add to the stable answer's (``serving.results.SHADOW_SUFFIX``;
#: serving imports rollouts, so the name is repeated here rather than imported).
SHADOW_SUFFIX = "-shadow"
#: Predictions and scores kept per arm for the drift check.
MAX_VALUES = 100_000
_READ = ["prediction_id", "arm", "latency_ms", "prediction", "probabilities"]
_REJECTED = "rejected"


@dataclass(frozen=True)
class StepFigures:
    """Both arms over one analysis window, and the shadow pairs (None unless the rollout is a shadow)."""

    stable: ArmFigures
    candidate: ArmFigures
    pairs: PairFigures | None = None


def arm_figures(
    log: PredictionLog,
    model: str,
    version: int,
    arm: str,
    start: datetime,
    end: datetime,
    *,
    labels: Mapping[str, Any] | None = None,
) -> ArmFigures:
    """What ``arm`` (served by ``version``) did in ``[start, end)``; ``labels`` maps prediction ids the
    client saw to their true label (a shadow row is judged by its stable twin's label)."""
    requests = rows = correct = labelled = 0
    latencies = StreamPercentiles()
    predictions: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    for table in _arm_rows(log, model, version, arm, start, end):
        rows += table.num_rows
        ids = table["prediction_id"]
        first = pc.or_(pc.ends_with(ids, "-0"), pc.ends_with(ids, "-0" + SHADOW_SUFFIX))
        requests += int(pc.sum(first).as_py() or 0)
        latencies.add(table["latency_ms"].filter(first).to_numpy(zero_copy_only=False))
        values = _values(table["prediction"])
        predictions.append(values)
        score = _scores(table["probabilities"])
        if score is not None:
            scores.append(score)
        if labels:
            found, right = _judged(ids, values, labels)
            labelled, correct = labelled + found, correct + right
    errors, refused_requests, refused_rows, failed_rows = _failures(log, model, version, arm, start, end)
    predicted = _capped(predictions)
    scored = _capped(scores) if scores and sum(len(s) for s in scores) == rows else None
    return ArmFigures(
        requests=requests + errors + refused_requests,
        errors=errors,
        rows=rows + failed_rows,
        rejected_rows=refused_rows,
        latency_p99_ms=latencies.percentile(99),
        predictions=predicted,
        scores=scored,
        labelled=labelled,
        correct=correct,
    )


def pair_figures(
    log: PredictionLog, model: str, stable: int, candidate: int, start: datetime, end: datetime
) -> PairFigures:
    """Shadow: each candidate answer (arm ``shadow``) beside stable's answer to the same row.

    ``agreement`` is the share of pairs with the same predicted label (None for a regressor, whose values
    are seldom equal); ``mean_abs_score_difference`` compares a binary classifier's scores, or a
    regressor's predicted values."""
    left = _pair_side(log, model, stable, "stable", start, end)
    right = _pair_side(log, model, candidate, "shadow", start, end)
    if left is None or right is None:
        return PairFigures(0)
    right = right.set_column(0, "key", pc.utf8_slice_codeunits(right["key"], 0, -len(SHADOW_SUFFIX)))
    joined = left.join(right, "key", join_type="inner", left_suffix="_stable", right_suffix="_shadow")
    pairs = joined.num_rows
    if not pairs:
        return PairFigures(0)
    mine = _values(joined["prediction_stable"])
    theirs = _values(joined["prediction_shadow"])
    regression = mine.dtype.kind in "fc" and theirs.dtype.kind in "fc"
    agreement = None if regression else float(np.mean(mine == theirs))
    difference = None
    if regression:
        difference = float(np.mean(np.abs(mine.astype(float) - theirs.astype(float))))
    else:
        a = joined["score_stable"].to_numpy(zero_copy_only=False).astype(np.float64)
        b = joined["score_shadow"].to_numpy(zero_copy_only=False).astype(np.float64)
        if not (np.isnan(a).any() or np.isnan(b).any()):
            difference = float(np.mean(np.abs(a - b)))
    return PairFigures(pairs, agreement, difference)


def step_figures(
    registry: Registry,
    log: PredictionLog,
    *,
    model: str,
    stable: int,
    candidate: int,
    strategy: str,
    window: tuple[datetime, datetime],
    stable_window: tuple[datetime, datetime] | None = None,
) -> StepFigures:
    """Both arms of a rollout over ``window``; stable's over ``stable_window`` when given (blue-green: the
    time before the switch, when stable answered everything)."""
    arm = "shadow" if strategy == "shadow" else "canary"
    start, end = window
    stable_start, stable_end = stable_window or window
    stable_labels = _labels(registry, model, stable, min(start, stable_start), max(end, stable_end))
    candidate_labels = stable_labels if arm == "shadow" else _labels(registry, model, candidate, start, end)
    pairs = pair_figures(log, model, stable, candidate, start, end) if arm == "shadow" else None
    return StepFigures(
        stable=arm_figures(log, model, stable, "stable", stable_start, stable_end, labels=stable_labels),
        candidate=arm_figures(log, model, candidate, arm, start, end, labels=candidate_labels),
        pairs=pairs,
    )


def _labels(registry: Registry, model: str, version: int, start: datetime, end: datetime) -> dict[str, Any]:
    return {identifier: label for identifier, label, _ in labels_for(registry, model, version, start, end)}


def _arm_rows(
    log: PredictionLog, model: str, version: int, arm: str, start: datetime, end: datetime
) -> Iterator[pa.Table]:
    if end <= start or version not in log.store.versions(model):
        return
    for table in log.batches(model, version, start, end, columns=_READ):
        mine = table.filter(pc.equal(table["arm"], arm))
        if mine.num_rows:
            yield mine


def _failures(
    log: PredictionLog, model: str, version: int, arm: str, start: datetime, end: datetime
) -> tuple[int, int, int, int]:
    """``(errors, refused requests, rows the contract refused, rows of every failed request)``: errors are
    5xx; any other failure is the request's fault and counts as a request, but only a contract refusal
    (``rejected``) counts as rejected rows."""
    errors = refused = rejected_rows = failed_rows = 0
    if end <= start or version not in log.failure_store.versions(model):
        return 0, 0, 0, 0
    for table in log.failures(model, version, start, end):
        table = table.filter(pc.equal(table["arm"], arm))
        statuses = table["status"].to_numpy(zero_copy_only=False)
        request_rows = table["rows"].to_numpy(zero_copy_only=False).astype(np.int64)
        kinds = np.asarray(table["error"].to_pylist(), dtype=object)
        errors += int(np.count_nonzero(statuses >= SERVER_ERROR))
        refused += int(np.count_nonzero(statuses < SERVER_ERROR))
        rejected_rows += int(request_rows[kinds == _REJECTED].sum()) if len(kinds) else 0
        failed_rows += int(request_rows.sum())
    return errors, refused, rejected_rows, failed_rows


def _pair_side(
    log: PredictionLog, model: str, version: int, arm: str, start: datetime, end: datetime
) -> pa.Table | None:
    """One arm's rows as ``key`` (the prediction id), ``prediction`` and ``score`` (NaN without one): a join
    takes no list column, so the probabilities are reduced to the score first."""
    tables = []
    for table in _arm_rows(log, model, version, arm, start, end):
        score = _scores(table["probabilities"])
        if score is None:
            score = np.full(table.num_rows, np.nan)
        tables.append(
            pa.table({"key": table["prediction_id"], "prediction": table["prediction"], "score": score})
        )
    return pa.concat_tables(tables, promote_options="permissive") if tables else None


def _values(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type) or pa.types.is_boolean(array.type):
        return array.to_numpy(zero_copy_only=False)
    return np.asarray(array.to_pylist(), dtype=object)


def _scores(column: pa.ChunkedArray | pa.Array) -> np.ndarray | None:
    """A binary classifier's positive-class probability per row, None when the rows carry none."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not len(array) or array.null_count:
        return None
    lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
    if not np.all(lengths == 2):
        return None
    return pc.list_element(array, 1).to_numpy(zero_copy_only=False).astype(np.float64)


def _judged(ids: pa.ChunkedArray, values: np.ndarray, labels: Mapping[str, Any]) -> tuple[int, int]:
    """How many of these rows have a label, and how many of those the arm predicted right."""
    found = right = 0
    for identifier, value in zip(ids.to_pylist(), values.tolist(), strict=True):
        key = identifier.removesuffix(SHADOW_SUFFIX)
        if key in labels:
            found += 1
            right += int(value == labels[key])
    return found, right


def _capped(parts: list[np.ndarray]) -> np.ndarray | None:
    if not parts:
        return None
    values = np.concatenate(parts) if len(parts) > 1 else parts[0]
    if len(values) > MAX_VALUES:
        chosen = np.sort(np.random.default_rng(0).choice(len(values), MAX_VALUES, replace=False))
        values = values[chosen]
    return values
