"""One monitoring window of one model version: drift, data quality, accuracy and service health.

The window's rows are read from the prediction log one row group at a time and counted into the reference
profile's layout, so memory holds one group (≤ 100,000 rows) and a few sketches, never the window. From the
merged sketches:

* drift of every feature against the reference (``shipyard.stats.drift``), and of the outputs: the
  predicted label or value against the training's out-of-fold predictions (``_prediction``), and for a
  binary classifier the positive class's probability (``_score``);
* data quality per feature: missing rate, share of numbers outside the reference's range, share of
  categories outside the reference's vocabulary (with the reference's own share beside it);
* accuracy, once labels are attached: the task's metrics over the labelled rows, with their count;
* service health: requests and rows (scaled back up when the log is sampled), request rate, and latency
  percentiles of the logged requests.

A window without rows is "no data": every figure that needs rows is None and nothing divides by zero.
Requests the server refused (contract violations) and failed requests are not in the prediction log; their
rates come from the server's ``/metrics`` (``shipyard_requests_total`` by status).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.errors import InvalidInput
from shipyard.monitoring.feedback import labels_for
from shipyard.predictions import PredictionLog
from shipyard.registry import ModelVersion, Registry
from shipyard.stats import NumericLayout, NumericSketch, Profile, ProfileLayout
from shipyard.stats.drift import DatasetDrift, DriftOptions, compare
from shipyard.training import PREDICTION_COLUMN, SCORE_COLUMN
from shipyard.training.metrics import compute_metrics, resolve_metrics

OUTPUT_COLUMNS = (PREDICTION_COLUMN, SCORE_COLUMN)


@dataclass(frozen=True)
class FeatureQuality:
    missing_rate: float
    out_of_range_share: float | None  # numeric features
    unseen_share: float | None  # categorical features: values outside the reference vocabulary
    reference_unseen_share: float | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class WindowResult:
    """Everything monitored for one version over ``[start, end)``; ``rows == 0`` means no data."""

    model: str
    version: int
    start: datetime
    end: datetime
    rows: int = 0
    requests: int = 0
    estimated_requests: float = 0.0
    sampled: bool = False
    drift: DatasetDrift | None = None
    output_drift: DatasetDrift | None = None
    quality: dict[str, FeatureQuality] = field(default_factory=dict)
    accuracy: dict[str, float | None] = field(default_factory=dict)
    labelled_rows: int = 0
    health: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: The window's feature profile and the reference's, in the same layout (for reports; not stored).
    profile: Profile | None = field(default=None, repr=False)
    reference_profile: Profile | None = field(default=None, repr=False)

    @property
    def no_data(self) -> bool:
        return self.rows == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "no_data": self.no_data,
            "rows": self.rows,
            "requests": self.requests,
            "estimated_requests": self.estimated_requests,
            "sampled": self.sampled,
            "drift": self.drift.to_dict() if self.drift else None,
            "output_drift": self.output_drift.to_dict() if self.output_drift else None,
            "quality": {name: quality.to_dict() for name, quality in self.quality.items()},
            "accuracy": dict(self.accuracy),
            "labelled_rows": self.labelled_rows,
            "health": dict(self.health),
            "notes": list(self.notes),
        }


def monitor_window(
    registry: Registry,
    log: PredictionLog,
    version: ModelVersion,
    start: datetime,
    end: datetime,
    options: DriftOptions | None = None,
) -> WindowResult:
    """Monitor ``version`` over the predictions it answered in ``[start, end)``."""
    if end <= start:
        raise InvalidInput(f"a window ends after it starts; got {start.isoformat()} to {end.isoformat()}")
    result = WindowResult(version.model, version.version, start, end)
    reference = Profile.from_dict(version.profile) if version.profile else None
    features = _features(version, reference)
    if reference is None:
        result.notes.append(f"{version.ref} has no reference profile: drift is not computed")
    feature_layout = _sub_layout(reference, features)
    output_layout = _sub_layout(
        reference, [c for c in OUTPUT_COLUMNS if reference and c in reference.layout.columns]
    )

    window: Profile | None = None
    outputs: Profile | None = None
    out_of_range = dict.fromkeys(features, 0)
    latencies: list[np.ndarray] = []
    requests: set[str] = set()
    weights = 0.0
    # Only the labelled predictions are kept for accuracy: memory follows the labels, not the window.
    truth = {pid: label for pid, label, _ in labels_for(registry, version.model, version.version, start, end)}
    labelled_ids = pa.array(list(truth), pa.string())
    predictions: list[pa.Table] = []
    for table in log.batches(version.model, version.version, start, end):
        result.rows += table.num_rows
        inputs = _flat_inputs(table)
        if feature_layout is not None:
            part = Profile.build(inputs.select(list(feature_layout.columns)), feature_layout)
            window = part if window is None else window.merge(part)
            _count_out_of_range(inputs, reference, out_of_range)
        if output_layout is not None:
            part = Profile.build(_outputs(table, output_layout, version), output_layout)
            outputs = part if outputs is None else outputs.merge(part)
        first_rows = _first_row_of_each_request(table)
        requests.update(first_rows["request_id"].to_pylist())
        latencies.append(first_rows["latency_ms"].to_numpy(zero_copy_only=False))
        rates = first_rows["sample_rate"].to_numpy(zero_copy_only=False).astype(np.float64)
        weights += float(np.sum(1.0 / np.maximum(rates, 1e-9)))
        result.sampled = result.sampled or bool(np.any(rates < 1))
        if truth:
            mask = pc.is_in(table["prediction_id"], value_set=labelled_ids)
            predictions.append(table.filter(mask).select(["prediction_id", "prediction", "probabilities"]))

    result.requests = len(requests)
    result.estimated_requests = round(weights, 3)
    result.health = _health(result, latencies)
    if result.no_data:
        result.notes.append("no data: no prediction was logged in this window")
        return result
    if reference is not None and window is not None and feature_layout is not None:
        sub_reference = _sub_profile(reference, feature_layout)
        result.drift = compare(sub_reference, window, _rules_for(options, feature_layout))
        result.profile, result.reference_profile = window, sub_reference
        result.quality = _quality(sub_reference, window, out_of_range)
    if reference is not None and outputs is not None and output_layout is not None:
        result.output_drift = compare(
            _sub_profile(reference, output_layout), outputs, _rules_for(options, output_layout)
        )
    if predictions:
        _accuracy(version, result, truth, pa.concat_tables(predictions, promote_options="permissive"))
    return result


def _features(version: ModelVersion, reference: Profile | None) -> list[str]:
    """The model's input columns that the reference profiles (the contract's columns, else the model's)."""
    names: list[str] = []
    if version.input_schema:
        names = [str(column["name"]) for column in version.input_schema.get("columns", [])]
    elif version.info.feature_names:
        names = list(version.info.feature_names)
    if reference is None:
        return names
    return [name for name in names if name in reference.layout.columns]


def _sub_layout(reference: Profile | None, names: list[str]) -> ProfileLayout | None:
    if reference is None or not names:
        return None
    return ProfileLayout({name: reference.layout.columns[name] for name in names})


def _sub_profile(reference: Profile, layout: ProfileLayout) -> Profile:
    return Profile(layout, {name: reference.columns[name] for name in layout.columns}, reference.rows)


def _rules_for(options: DriftOptions | None, layout: ProfileLayout) -> DriftOptions | None:
    """The drift options, with only the column rules that concern these columns."""
    if options is None:
        return None
    rules = {name: rule for name, rule in options.columns.items() if name in layout.columns}
    return DriftOptions(options.small_window, options.drift_share, rules)


def _flat_inputs(table: pa.Table) -> pa.Table:
    inputs = table["inputs"].combine_chunks()
    return pa.Table.from_arrays(inputs.flatten(), names=[field.name for field in inputs.type])


def _outputs(table: pa.Table, layout: ProfileLayout, version: ModelVersion) -> pa.Table:
    columns: dict[str, pa.Array] = {}
    if PREDICTION_COLUMN in layout.columns:
        columns[PREDICTION_COLUMN] = table["prediction"].combine_chunks()
    if SCORE_COLUMN in layout.columns:
        columns[SCORE_COLUMN] = _positive_probability(table, version)
    return pa.table(columns)


def _positive_probability(table: pa.Table, version: ModelVersion) -> pa.Array:
    """The second class's probability per row (what ``_score`` holds for a binary classifier), or null."""
    probabilities = table["probabilities"].combine_chunks()
    if len(version.info.classes or []) != 2 or probabilities.null_count == len(probabilities):
        return pa.nulls(len(probabilities), pa.float64())
    return pc.list_element(probabilities, 1)


def _first_row_of_each_request(table: pa.Table) -> pa.Table:
    """One row per request: a request's rows share its latency, id and sampling rate."""
    ids = table["prediction_id"].to_pylist()
    keep = [index for index, pid in enumerate(ids) if pid.endswith("-0")]
    return table.select(["request_id", "latency_ms", "sample_rate"]).take(pa.array(keep, pa.int64()))


def _count_out_of_range(inputs: pa.Table, reference: Profile | None, counts: dict[str, int]) -> None:
    if reference is None:
        return
    for name in counts:
        sketch = reference.columns.get(name)
        if not isinstance(sketch, NumericSketch) or sketch.min is None or sketch.max is None:
            continue
        values = inputs[name].to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        counts[name] += int(np.count_nonzero((values < sketch.min) | (values > sketch.max)))


def _quality(reference: Profile, window: Profile, out_of_range: dict[str, int]) -> dict[str, FeatureQuality]:
    quality = {}
    for name, layout in window.layout.columns.items():
        mine, theirs = window.columns[name], reference.columns[name]
        missing = mine.null_count / window.rows if window.rows else 0.0
        if isinstance(layout, NumericLayout):
            share = out_of_range.get(name, 0) / mine.count if mine.count else None
            quality[name] = FeatureQuality(missing, share, None, None)
        else:
            unseen = mine.other_count / mine.count if mine.count else None  # type: ignore[union-attr]
            known = theirs.other_count / theirs.count if theirs.count else None  # type: ignore[union-attr]
            quality[name] = FeatureQuality(missing, None, unseen, known)
    return quality


def _health(result: WindowResult, latencies: list[np.ndarray]) -> dict[str, float | None]:
    seconds = (result.end - result.start).total_seconds()
    values = np.concatenate(latencies) if latencies else np.zeros(0)
    values = values[np.isfinite(values)]

    def percentile(q: float) -> float | None:
        return float(np.percentile(values, q)) if values.size else None

    return {
        "request_rate": result.estimated_requests / seconds if seconds > 0 else None,
        "rows_per_request": result.rows / result.requests if result.requests else None,
        "latency_p50_ms": percentile(50),
        "latency_p95_ms": percentile(95),
        "latency_p99_ms": percentile(99),
    }


def _accuracy(
    version: ModelVersion, result: WindowResult, truth: dict[str, Any], predicted: pa.Table
) -> None:
    """The task's metrics over ``predicted`` (the window's labelled predictions) against ``truth``."""
    ids = predicted["prediction_id"].to_pylist()
    result.labelled_rows = len(ids)
    if not ids:
        return
    task = version.info.task if version.info.task in ("classification", "regression") else None
    if task is None:
        result.notes.append(
            f"{version.ref} is neither a classifier nor a regressor: accuracy is not computed"
        )
        return
    y_true = np.asarray([truth[pid] for pid in ids])
    y_pred = np.asarray(predicted["prediction"].to_pylist())
    classes = list(version.info.classes or [])
    proba = None
    if task == "classification" and predicted["probabilities"].null_count == 0:
        proba = np.asarray(predicted["probabilities"].to_pylist(), dtype=np.float64)
    metrics = compute_metrics(resolve_metrics(task, None), y_true, y_pred, proba, classes)
    result.accuracy = {
        name: (None if value is None or math.isnan(value) else value) for name, value in metrics.items()
    }
