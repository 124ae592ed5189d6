"""One monitoring window of one model version: drift, data quality, accuracy and service health.

The window's rows are read from the prediction log one row group at a time and counted into the reference
profile's layout, so memory holds one group (≤ 100,000 rows) and a few sketches, never the window. From the
merged sketches:

* drift of every feature against the reference (``shipyard.stats.drift``), and of the outputs: the
  predicted label or value against the training's out-of-fold predictions (``_prediction``), and for a
  binary classifier the positive class's probability (``_score``);
* data quality per feature: missing rate, share of numbers outside the reference's range, share of
  categories outside the reference's vocabulary (with the reference's own share beside it), and the rows
  the data contract rejected because of it (count and share of all rows sent);
* accuracy, once labels are attached: the task's metrics over the labelled rows, with their count;
* service health: requests and rows (scaled back up when the log is sampled), request rate, error rate
  (5xx) and rejected rate (4xx) of all requests, latency percentiles and batch sizes of the answered ones,
  and the CPU and memory of the processes serving the version (``monitoring.service``).

A window without requests is "no data": every figure that needs rows is None and nothing divides by zero.
A window where every request was refused has data: its rejections.

A window with too few rows for a kind of verdict (``MinimumRows``: drift, dataset drift, quality, accuracy)
still computes its figures, but says "not enough data (n rows, needs m)" in ``insufficient`` and gives no
verdict: no feature drifts, and the figures stored for alerts are None.
"""

from __future__ import annotations

import copy
import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.errors import InvalidInput
from shipyard.monitoring.contract_quality import ContractCounts
from shipyard.monitoring.feedback import labels_for
from shipyard.monitoring.open_windows import OpenWindows
from shipyard.monitoring.policy import MinimumRows
from shipyard.monitoring.service import FailureCounts, count_failures, no_usage, usage_figures
from shipyard.predictions import PredictionLog
from shipyard.predictions.records import OUTPUT_COLUMNS, PREDICTION_COLUMN, SCORE_COLUMN
from shipyard.predictions.segments import Segment
from shipyard.registry import ModelVersion, Registry
from shipyard.stats import NumericLayout, NumericSketch, Profile, ProfileLayout
from shipyard.stats.drift import DatasetDrift, DriftOptions, compare
from shipyard.stats.quantiles import StreamPercentiles


@dataclass(frozen=True)
class FeatureQuality:
    missing_rate: float | None  # None when no row was answered
    out_of_range_share: float | None  # numeric features
    unseen_share: float | None  # categorical features: values outside the reference vocabulary
    reference_unseen_share: float | None
    rejected_rows: float = 0.0  # rows the contract refused because of this feature
    rejected_share: float | None = None  # of every row sent (answered and refused)

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
    #: Requests that got no prediction (estimated when sampled), by kind: rejected, invalid, timeout, …
    failed_requests: float = 0.0
    failures: dict[str, float] = field(default_factory=dict)
    sampled: bool = False
    drift: DatasetDrift | None = None
    output_drift: DatasetDrift | None = None
    quality: dict[str, FeatureQuality] = field(default_factory=dict)
    accuracy: dict[str, float | None] = field(default_factory=dict)
    labelled_rows: int = 0
    health: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: The rows each kind of verdict needs, and per kind below its minimum (drift, dataset_drift,
    #: output_drift, quality, accuracy) why there is no verdict: "not enough data (4 rows, needs 100)".
    minimums: MinimumRows = field(default_factory=MinimumRows)
    insufficient: dict[str, str] = field(default_factory=dict)
    #: The window's feature profile and the reference's, in the same layout (for reports; not stored).
    profile: Profile | None = field(default=None, repr=False)
    reference_profile: Profile | None = field(default=None, repr=False)

    @property
    def no_data(self) -> bool:
        return self.rows == 0 and self.failed_requests == 0

    def moved(self, start: datetime, end: datetime) -> WindowResult:
        """The same findings over ``[start, end)``, sharing nothing that can change: a long range's windows
        without data all find the same, and copying one costs a fraction of building it."""
        moved = copy.copy(self)
        moved.start, moved.end = start, end
        moved.failures, moved.quality, moved.accuracy = (
            dict(self.failures),
            dict(self.quality),
            dict(self.accuracy),
        )
        moved.health, moved.notes, moved.insufficient = (
            dict(self.health),
            list(self.notes),
            dict(self.insufficient),
        )
        return moved

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
            "failed_requests": self.failed_requests,
            "failures": dict(self.failures),
            "sampled": self.sampled,
            "drift": self.drift.to_dict() if self.drift else None,
            "output_drift": self.output_drift.to_dict() if self.output_drift else None,
            "quality": {name: quality.to_dict() for name, quality in self.quality.items()},
            "accuracy": dict(self.accuracy),
            "labelled_rows": self.labelled_rows,
            "health": dict(self.health),
            "notes": list(self.notes),
            "min_rows": self.minimums.to_dict(),
            "not_enough_data": dict(self.insufficient),
        }


@dataclass(frozen=True)
class Sources:
    """Which of a window's other sources may hold anything. A caller that already knows one holds nothing
    (``monitor_range`` lists the log's folders and counts the labels once for a whole range) saves a listing
    or a query per window."""

    failures: bool = True
    usage: bool = True
    labels: bool = True
    #: The hours whose prediction folders hold anything in the window, when known (None: list them).
    hours: tuple[datetime, ...] | None = None


def monitor_window(
    registry: Registry,
    log: PredictionLog,
    version: ModelVersion,
    start: datetime,
    end: datetime,
    options: DriftOptions | None = None,
    minimums: MinimumRows | None = None,
    sources: Sources = Sources(),
    open_windows: OpenWindows[_Tally] | None = None,
) -> WindowResult:
    """Monitor ``version`` over the predictions it answered in ``[start, end)``; a kind of verdict needs
    ``minimums`` rows (default: ``MinimumRows()``). With ``open_windows``, a window counted before is
    brought up to date with the segments written since, not read again."""
    if end <= start:
        raise InvalidInput(f"a window ends after it starts; got {start.isoformat()} to {end.isoformat()}")
    result = WindowResult(version.model, version.version, start, end, minimums=minimums or MinimumRows())
    reference = _reference(version.profile)
    if reference is None:
        result.notes.append(_no_profile(version))
    # Only the labelled predictions are kept for accuracy: memory follows the labels, not the window.
    labels = labels_for(registry, version.model, version.version, start, end) if sources.labels else []
    truth = {pid: label for pid, label, _ in labels}
    tally = _count(log, version, reference, truth, (start, end), open_windows, sources.hours)
    result.rows, result.requests = tally.rows, tally.requests
    result.estimated_requests, result.sampled = round(tally.weights, 3), tally.sampled
    failures = (
        count_failures(log, version.model, version.version, start, end)
        if sources.failures
        else FailureCounts()
    )
    result.failed_requests = round(failures.requests, 3)
    result.failures = {kind: round(count, 3) for kind, count in sorted(failures.by_kind.items())}
    usage = usage_figures(log, version.model, version.version, start, end) if sources.usage else no_usage()
    result.health = {**_health(result, tally.latencies, tally.batch_sizes, failures), **usage}
    if result.no_data:
        result.notes.append(_NO_DATA)
        return result
    _judge(result, tally, reference, failures, options)
    return result


#: The logged columns a window reads (not the model, version, protocol or arm its folder already says).
_READ_COLUMNS = [
    "prediction_id",
    "latency_ms",
    "batch_rows",
    "sample_rate",
    "inputs",
    "prediction",
    "probabilities",
]


class _Tally:
    """What a window's rows add up to, one row group at a time: sketches and counts, never the rows."""

    def __init__(self, version: ModelVersion, reference: Profile | None, truth: dict[str, Any]) -> None:
        self.version, self.reference, self.truth = version, reference, truth
        self.features = _features(version, reference)
        self.feature_layout = _sub_layout(reference, self.features)
        self.counts = ContractCounts.for_version(None if reference else version.input_schema, self.features)
        self.output_layout = _sub_layout(
            reference, [c for c in OUTPUT_COLUMNS if reference and c in reference.layout.columns]
        )
        self.window: Profile | None = None
        self.outputs: Profile | None = None
        self.out_of_range = dict.fromkeys(self.features, 0)
        # Percentiles in bounded memory and a count of first rows: a busy hour has millions of requests.
        self.latencies, self.batch_sizes = StreamPercentiles(), StreamPercentiles()
        self.requests = 0
        self.rows, self.weights, self.row_weights, self.sampled = 0, 0.0, 0.0, False
        self.labelled_ids = pa.array(list(truth), pa.string())
        self.predictions: list[pa.Table] = []

    def add(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        inputs = self.counts.counted(_flat_inputs(table))  # quality from the contract, without a profile
        self.window = _add_inputs(self.window, inputs, self.feature_layout, self.reference, self.out_of_range)
        if self.output_layout is not None:
            part = Profile.build(_outputs(table, self.output_layout, self.version), self.output_layout)
            self.outputs = part if self.outputs is None else self.outputs.merge(part)
        first_rows = _first_row_of_each_request(table)
        self.requests += first_rows.num_rows  # a request has exactly one row "-0"
        self.latencies.add(first_rows["latency_ms"].to_numpy(zero_copy_only=False))
        if "batch_rows" in first_rows.column_names:
            sizes = first_rows["batch_rows"].to_numpy(zero_copy_only=False)
            self.batch_sizes.add(sizes[sizes > 0])  # 0: logged before batch sizes were
        rates = first_rows["sample_rate"].to_numpy(zero_copy_only=False).astype(np.float64)
        self.weights += float(np.sum(1.0 / np.maximum(rates, 1e-9)))
        row_rates = table["sample_rate"].to_numpy(zero_copy_only=False).astype(np.float64)
        self.row_weights += float(np.sum(1.0 / np.maximum(row_rates, 1e-9)))
        self.sampled = self.sampled or bool(np.any(rates < 1))
        if self.truth:
            mask = pc.is_in(table["prediction_id"], value_set=self.labelled_ids)
            self.predictions.append(
                table.filter(mask).select(["prediction_id", "prediction", "probabilities"])
            )


def _count(
    log: PredictionLog,
    version: ModelVersion,
    reference: Profile | None,
    truth: dict[str, Any],
    span: tuple[datetime, datetime],
    open_windows: OpenWindows[_Tally] | None,
    hours: tuple[datetime, ...] | None = None,
) -> _Tally:
    """The window's tally: counted over its segments, or the last run's brought up to date. Decoded in
    this thread: a window is small, and a long range runs one process per CPU."""
    start, end = span

    def count(tally: _Tally, segments: list[Segment]) -> None:
        for table in log.segment_batches(segments, start, end, _READ_COLUMNS, threads=False):
            tally.add(table)

    if hours is None:
        segments = log.segments(version.model, version.version, start, end)
    else:
        segments = log.segments_in_hours(version.model, version.version, hours)
    if open_windows is None:
        tally = _Tally(version, reference, truth)
        count(tally, segments)
        return tally
    # What else the tally depends on: a new label or a rebuilt reference profile counts it all again.
    fingerprint = (
        hashlib.sha256(orjson.dumps(version.profile, option=orjson.OPT_SORT_KEYS)).hexdigest(),
        frozenset((prediction, repr(label)) for prediction, label in truth.items()),
    )
    return open_windows.tally(
        (version.model, version.version, start),
        fingerprint,
        segments,
        lambda: _Tally(version, reference, truth),
        count,
    )


def _judge(
    result: WindowResult,
    tally: _Tally,
    reference: Profile | None,
    failures: FailureCounts,
    options: DriftOptions | None,
) -> None:
    """Quality, drift and accuracy of a window with data, and which verdicts it has too few rows for."""
    layout, window = tally.feature_layout, tally.window
    sub_reference = _sub_profile(reference, layout) if reference and layout else None
    result.quality = tally.counts.fill(
        _quality(tally.features, sub_reference, window, tally.out_of_range, failures, tally.row_weights)
    )
    if sub_reference is not None and window is not None and layout is not None:
        result.drift = compare(sub_reference, window, _rules_for(options, layout, result.minimums))
        result.profile, result.reference_profile = window, sub_reference
    if reference is not None and tally.outputs is not None and tally.output_layout is not None:
        output_options = _rules_for(options, tally.output_layout, result.minimums)
        output_reference = _sub_profile(reference, tally.output_layout)
        result.output_drift = compare(output_reference, tally.outputs, output_options)
    if tally.predictions:
        labelled = pa.concat_tables(tally.predictions, promote_options="permissive")
        _accuracy(tally.version, result, tally.truth, labelled)
    result.insufficient = _shortfalls(result)


#: The reference profiles read lately, by the identity of their stored form (kept, so the id stays theirs).
_REFERENCES: dict[int, tuple[dict[str, Any], Profile]] = {}


def _reference(stored: dict[str, Any] | None) -> Profile | None:
    """A version's reference profile, read once per stored form: a range judges every window against it."""
    if not stored:
        return None
    found = _REFERENCES.get(id(stored))
    if found is None or found[0] is not stored:
        if len(_REFERENCES) >= 64:
            _REFERENCES.clear()
        found = _REFERENCES[id(stored)] = (stored, Profile.from_dict(stored))
    return found[1]


def empty_window(
    version: ModelVersion, start: datetime, end: datetime, minimums: MinimumRows | None = None
) -> WindowResult:
    """What ``monitor_window`` finds in a window where nothing of the version was logged, known without
    reading the log (``PredictionLog.active_hours`` says which windows hold nothing)."""
    result = WindowResult(version.model, version.version, start, end, minimums=minimums or MinimumRows())
    if not version.profile:
        result.notes.append(_no_profile(version))
    nothing = StreamPercentiles()
    result.health = {**_health(result, nothing, nothing, FailureCounts()), **no_usage()}
    result.notes.append(_NO_DATA)
    return result


_NO_DATA = "no data: no request was logged in this window"


def _no_profile(version: ModelVersion) -> str:
    return f"{version.ref} has no reference profile: drift is not computed"


def _shortfalls(result: WindowResult) -> dict[str, str]:
    """Why each kind of verdict the window has too few rows for is withheld."""
    least = result.minimums
    found: dict[str, str] = {}
    for kind, drift in (("drift", result.drift), ("output_drift", result.output_drift)):
        few = [column for column in drift.columns if column.insufficient] if drift else []
        if few and result.rows < least.drift:
            found[kind] = not_enough(result.rows, least.drift)
        elif few:
            names = ", ".join(column.column for column in few)
            found[kind] = f"not enough data in {names} (fewer than {least.drift} values)"
    if result.drift is not None and result.drift.insufficient:
        found["dataset_drift"] = not_enough(result.rows, least.dataset_drift)
    if result.quality and result.rows < least.quality:
        found["quality"] = not_enough(result.rows, least.quality)
    if result.accuracy and result.labelled_rows < least.accuracy:
        found["accuracy"] = not_enough(result.labelled_rows, least.accuracy, "labelled rows")
    return found


def not_enough(have: int, need: int, unit: str = "rows") -> str:
    """How a withheld verdict reads, wherever it is shown."""
    return f"not enough data ({have:,} {unit}, needs {need:,})"


def _add_inputs(
    window: Profile | None,
    inputs: pa.Table,
    layout: ProfileLayout | None,
    reference: Profile | None,
    out_of_range: dict[str, int],
) -> Profile | None:
    """The window's feature profile with ``inputs`` counted in (and their numbers outside the reference's
    range); None while there is no layout to count into (no reference profile)."""
    if layout is None:
        return window
    part = Profile.build(inputs.select(list(layout.columns)), layout)
    _count_out_of_range(inputs, reference, out_of_range)
    return part if window is None else window.merge(part)


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


def _rules_for(options: DriftOptions | None, layout: ProfileLayout, least: MinimumRows) -> DriftOptions:
    """The drift options, with only the column rules that concern these columns and the window's minimums."""
    options = options or DriftOptions()
    rules = {name: rule for name, rule in options.columns.items() if name in layout.columns}
    return DriftOptions(options.small_window, options.drift_share, rules, least.drift, least.dataset_drift)


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
    """One row per request (its first row's id ends in ``-0``): a request's rows share its latency, batch
    size and sampling rate."""
    columns = [c for c in ("latency_ms", "batch_rows", "sample_rate") if c in table.column_names]
    return table.select(columns).filter(pc.ends_with(table["prediction_id"], "-0"))


def _count_out_of_range(inputs: pa.Table, reference: Profile | None, counts: dict[str, int]) -> None:
    if reference is None:
        return
    for name in counts:
        sketch = reference.columns.get(name)
        if not isinstance(sketch, NumericSketch) or sketch.min is None or sketch.max is None:
            continue
        values = inputs[name].to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        counts[name] += int(np.count_nonzero((values < sketch.min) | (values > sketch.max)))


def _quality(
    features: list[str],
    reference: Profile | None,
    window: Profile | None,
    out_of_range: dict[str, int],
    failures: FailureCounts,
    answered_rows: float,
) -> dict[str, FeatureQuality]:
    """Per feature: what the answered rows looked like against the reference, and what the contract refused.

    A feature the contract blamed that is not among the profiled ones (an unexpected column) is listed too.
    """
    sent_rows = answered_rows + failures.rows
    quality = {}
    for name in dict.fromkeys([*features, *failures.rejected_rows]):
        rejected = round(failures.rejected_rows.get(name, 0.0), 3)
        rejected_share = rejected / sent_rows if sent_rows else None
        if window is None or reference is None or name not in window.columns:
            quality[name] = FeatureQuality(None, None, None, None, rejected, rejected_share)
            continue
        mine, theirs = window.columns[name], reference.columns[name]
        missing = mine.null_count / window.rows if window.rows else None
        if isinstance(window.layout.columns[name], NumericLayout):
            share = out_of_range.get(name, 0) / mine.count if mine.count else None
            quality[name] = FeatureQuality(missing, share, None, None, rejected, rejected_share)
        else:
            unseen = mine.other_count / mine.count if mine.count else None  # type: ignore[union-attr]
            known = theirs.other_count / theirs.count if theirs.count else None  # type: ignore[union-attr]
            quality[name] = FeatureQuality(missing, None, unseen, known, rejected, rejected_share)
    return quality


def _health(
    result: WindowResult,
    latency: StreamPercentiles,
    batches: StreamPercentiles,
    failures: FailureCounts,
) -> dict[str, float | None]:
    seconds = (result.end - result.start).total_seconds()
    every_request = result.estimated_requests + failures.requests
    latency_p50, latency_p95, latency_p99 = latency.percentiles([50, 95, 99])
    batch_p50, batch_p95 = batches.percentiles([50, 95])
    return {
        "request_rate": every_request / seconds if seconds > 0 else None,
        "error_rate": failures.errors / every_request if every_request else None,
        "rejected_rate": failures.refused / every_request if every_request else None,
        "rows_per_request": result.rows / result.requests if result.requests else None,
        "latency_p50_ms": latency_p50,
        "latency_p95_ms": latency_p95,
        "latency_p99_ms": latency_p99,
        "batch_rows_p50": batch_p50,
        "batch_rows_p95": batch_p95,
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
    from shipyard.training.metrics import compute_metrics, resolve_metrics  # scikit-learn: 2 s to import

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
