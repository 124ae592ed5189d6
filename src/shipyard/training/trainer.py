"""Training from a spec: load versioned data, check everything, cross-validate, evaluate, register.

Every check that can fail (columns, target, classes per fold, metric names, the estimator's import path)
runs before the first fit, so a bad spec fails in a second with a message naming the problem, not after an
hour of training. The registered version carries its contract, reference profile, metrics, params, the
spec, the full report and lineage pointing at the dataset versions it was trained and evaluated on.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import confusion_matrix

from shipyard.contracts import Contract
from shipyard.datasets import DatasetVersion, describe_type_breaks, read_contract
from shipyard.errors import InvalidInput
from shipyard.predictions.records import PREDICTION_COLUMN, SCORE_COLUMN
from shipyard.registry import ModelVersion, Registry, VersionMetadata
from shipyard.stats import Profile, ProfileLayout
from shipyard.training.estimators import build_estimator, simple_params, with_preprocessing
from shipyard.training.metrics import Metric, compute_metrics, resolve_metrics
from shipyard.training.progress import BarProgress, SilentProgress, TrainingProgress
from shipyard.training.report import FoldResult, SliceResult, TrainingReport
from shipyard.training.spec import TrainSpec
from shipyard.training.splits import cross_validation_folds, holdout_split

#: Where the fit runs: in this process, or as a task of a Ray cluster (``shipyard.training.ray_fit``).
Placement = Literal["local", "ray"]
_MAX_CLASSES_INFERRED = 20
_SLICE_BINS = 4
_SHOWN = 5


@dataclass(frozen=True)
class TrainingResult:
    """What ``train`` produced; ``version`` is None when it was asked not to register."""

    spec: TrainSpec
    report: TrainingReport
    model: Any
    contract: Contract
    profile: Profile
    dataset: DatasetVersion
    holdout: DatasetVersion
    version: ModelVersion | None
    ran_on: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Plan:
    task: str
    features: list[str]
    strategy: str
    metrics: list[Metric]
    estimator: Any


def train(
    spec: TrainSpec | dict[str, Any] | str | Path,
    *,
    registry: Registry | None = None,
    register: bool = True,
    progress: bool = True,
    reason: str = "",
    on: Placement = "local",
    ray_address: str = "",
) -> TrainingResult:
    """Train, evaluate and (by default) register the model a spec declares. See ``TrainSpec``.

    ``on="ray"`` fits on the Ray cluster at ``ray_address`` (default: the workspace's ``ray_address``
    setting; a local Ray when both are empty); this process still reads the data and registers, and the
    version's ``training["ran_on"]`` says where the fit ran.
    """
    if on not in ("local", "ray"):
        raise InvalidInput(f"cannot train on {on!r}; choose 'local' or 'ray'")
    loaded = TrainSpec.load(spec)
    own = registry is None
    active = registry if registry is not None else Registry()
    try:
        where = _Where(on, ray_address or active.settings.ray_address)
        return _run(loaded, active, register=register, progress=progress, reason=reason, where=where)
    finally:
        if own:
            active.close()


@dataclass(frozen=True)
class _Where:
    """Where the fit runs; everything before and after it (data, checks, registering) runs here."""

    on: Placement
    ray_address: str

    def fit(
        self, spec: TrainSpec, plan: _Plan, split: _Split, *, progress: bool
    ) -> tuple[_Fitted, dict[str, Any]]:
        """The fit, here or as a Ray task, and where it ran."""
        if self.on == "ray":
            from shipyard.training.ray_fit import run_on_ray

            return run_on_ray(_fit_quietly, spec, plan, split, address=self.ray_address)
        here = {"engine": "local", "host": socket.gethostname(), "pid": os.getpid()}
        return _fit(spec, plan, split, progress=progress), here


def _run(
    spec: TrainSpec, registry: Registry, *, register: bool, progress: bool, reason: str, where: _Where
) -> TrainingResult:
    dataset = _dataset(registry, spec)
    frame = registry.datasets.load(dataset).reset_index(drop=True)
    plan = _plan(spec, frame, dataset)
    split = _split(spec, plan, frame)
    fitted, ran_on = where.fit(spec, plan, split, progress=progress)
    evaluation = _evaluate(spec, plan, split, fitted)
    holdout_version = registry.datasets.add(
        f"{dataset.name}.holdout", split.holdout, reason="training hold-out"
    )
    datasets = {"data": dataset.ref, "holdout": holdout_version.ref}
    report = _report(spec, plan, split, fitted, evaluation, datasets)
    profile = _reference_profile(
        split.contract, plan, split.train, fitted.final, fitted.out_of_fold, spec.data.target
    )
    version = None
    if register:
        metadata = VersionMetadata(
            metrics=report.registered_metrics(),
            params=simple_params(fitted.final),
            tags=spec.tags,
            input_schema=split.contract.to_dict(),
            profile=profile.to_dict(),
            training={"spec": spec.to_dict(), "report": report.to_dict(), "ran_on": ran_on},
            datasets={"data": dataset.sha256, "holdout": holdout_version.sha256},
            seed=spec.seed,
        )
        card = "\n\n".join(part for part in (spec.description.strip(), report.to_markdown()) if part)
        version = registry.register(
            spec.model,
            fitted.final,
            description=card,
            metadata=metadata,
            reason=reason or "trained from spec",
        )
    return TrainingResult(
        spec, report, fitted.final, split.contract, profile, dataset, holdout_version, version, ran_on
    )


@dataclass(frozen=True)
class _Split:
    """The training rows and the hold-out, with the contract the training features satisfy."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    contract: Contract
    classes: list[Any] | None


@dataclass(frozen=True)
class _Fitted:
    """The cross-validation folds, the final model and its hold-out predictions and timings."""

    folds: list[FoldResult]
    out_of_fold: dict[int, Any]
    final: Any
    predicted: np.ndarray
    proba: np.ndarray | None
    fit_seconds: float
    predict_ms_per_row: float
    single_row_ms: float


def _split(spec: TrainSpec, plan: _Plan, frame: pd.DataFrame) -> _Split:
    """Cut the hold-out, check the folds are possible and settle the contract, all before any fit."""
    target = spec.data.target
    train_at, holdout_at = holdout_split(
        frame,
        target,
        fraction=spec.evaluation.holdout,
        strategy=plan.strategy,
        seed=spec.seed,
        group_column=spec.cv.group_column,
        time_column=spec.cv.time_column,
        task=plan.task,
    )
    train_frame = frame.iloc[train_at].reset_index(drop=True)
    holdout_frame = frame.iloc[holdout_at].reset_index(drop=True)
    _check_folds(spec, plan, train_frame)
    contract = _contract(spec, train_frame[plan.features])
    labels = train_frame[target].to_numpy()
    classes = sorted(np.unique(labels).tolist()) if plan.task == "classification" else None
    return _Split(train_frame, holdout_frame, contract, classes)


def _fit(spec: TrainSpec, plan: _Plan, split: _Split, *, progress: bool) -> _Fitted:
    """Cross-validate on the training rows, then fit the final model and time it on the hold-out."""
    target = spec.data.target
    model_template = (
        with_preprocessing(plan.estimator, split.contract, plan.features)
        if spec.estimator.preprocess == "auto"
        else plan.estimator
    )
    x_train, y_train = split.train[plan.features], split.train[target].to_numpy()
    x_holdout = split.holdout[plan.features]
    bar: TrainingProgress = (
        BarProgress(f"training {spec.model}", spec.cv.folds + 1) if progress else SilentProgress()
    )
    folds: list[FoldResult] = []
    out_of_fold: dict[int, Any] = {}
    with bar:
        splits = cross_validation_folds(
            split.train,
            target,
            strategy=plan.strategy,
            folds=spec.cv.folds,
            seed=spec.seed,
            group_column=spec.cv.group_column,
            time_column=spec.cv.time_column,
        )
        for number, (fit_at, check_at) in enumerate(splits, start=1):
            model = clone(model_template)
            started = time.perf_counter()
            model.fit(x_train.iloc[fit_at], y_train[fit_at])
            fit_seconds = time.perf_counter() - started
            predicted, proba = _predict(model, x_train.iloc[check_at], plan.task)
            scores = compute_metrics(plan.metrics, y_train[check_at], predicted, proba, split.classes or ())
            folds.append(FoldResult(number, len(fit_at), len(check_at), fit_seconds, scores))
            out_of_fold.update(zip(check_at.tolist(), predicted.tolist(), strict=True))
            bar.step(f"fold {number}/{spec.cv.folds}")

        final = clone(model_template)
        started = time.perf_counter()
        final.fit(x_train, y_train)
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        predicted, proba = _predict(final, x_holdout, plan.task)
        predict_ms_per_row = (time.perf_counter() - started) * 1000 / max(1, len(x_holdout))
        single_row_ms = _single_row_latency(final, x_holdout)
        bar.step("final fit")
    return _Fitted(
        folds, out_of_fold, final, predicted, proba, fit_seconds, predict_ms_per_row, single_row_ms
    )


def _fit_quietly(spec: TrainSpec, plan: _Plan, split: _Split) -> _Fitted:
    """``_fit`` on a Ray worker, whose output nobody watches: no progress bar."""
    return _fit(spec, plan, split, progress=False)


@dataclass(frozen=True)
class _Evaluation:
    """The final model's hold-out figures: overall, per slice, the confusion matrix, and warnings."""

    metrics: dict[str, float | None]
    slices: list[SliceResult]
    confusion: dict[str, Any] | None
    warnings: list[str]


def _evaluate(spec: TrainSpec, plan: _Plan, split: _Split, fitted: _Fitted) -> _Evaluation:
    """Score the final model on the hold-out, overall and per slice, with what to be wary of."""
    y_holdout = split.holdout[spec.data.target].to_numpy()
    predicted, proba, classes = fitted.predicted, fitted.proba, split.classes
    holdout_metrics = compute_metrics(plan.metrics, y_holdout, predicted, proba, classes or ())
    warnings = _representativeness(spec, plan, split.train, split.holdout)
    slices = _slices(spec, plan, split.holdout, y_holdout, predicted, proba, classes, warnings)
    confusion = None
    if plan.task == "classification" and classes is not None:
        matrix = confusion_matrix(y_holdout, predicted, labels=classes)
        confusion = {"labels": classes, "matrix": matrix.tolist()}
    return _Evaluation(holdout_metrics, slices, confusion, warnings)


def _report(
    spec: TrainSpec,
    plan: _Plan,
    split: _Split,
    fitted: _Fitted,
    evaluation: _Evaluation,
    datasets: dict[str, str],
) -> TrainingReport:
    return TrainingReport(
        model=spec.model,
        task=plan.task,
        target=spec.data.target,
        features=plan.features,
        classes=split.classes,
        strategy=plan.strategy,
        datasets=datasets,
        train_rows=len(split.train),
        holdout_rows=len(split.holdout),
        folds=fitted.folds,
        holdout=evaluation.metrics,
        slices=evaluation.slices,
        confusion=evaluation.confusion,
        fit_seconds=fitted.fit_seconds,
        predict_ms_per_row=fitted.predict_ms_per_row,
        single_row_ms=fitted.single_row_ms,
        warnings=evaluation.warnings,
    )


# -- preparation ---------------------------------------------------------------------------------------
def _dataset(registry: Registry, spec: TrainSpec) -> DatasetVersion:
    if spec.data.dataset is not None:
        return registry.datasets.get(spec.data.dataset)
    path = Path(spec.data.path or "")
    name = spec.data.name or path.stem
    return registry.datasets.add(name, path, reason=f"training data for {spec.model}")


def _plan(spec: TrainSpec, frame: pd.DataFrame, dataset: DatasetVersion) -> _Plan:
    """Every check that needs only the data and the spec; raises InvalidInput before any fit."""
    if frame.empty:
        raise InvalidInput(f"dataset {dataset.ref} has no rows")
    columns = [str(column) for column in frame.columns]
    target = spec.data.target
    _require_columns([target], columns, "target column")
    reserved = {target, spec.cv.group_column, spec.cv.time_column, *spec.data.exclude}
    features = spec.data.features or [column for column in columns if column not in reserved]
    _require_columns(features, columns, "feature column")
    _require_columns(spec.evaluation.slices, columns, "slice column")
    for name in (spec.cv.group_column, spec.cv.time_column):
        if name:
            _require_columns([name], columns, "cross-validation column")
    if target in features:
        raise InvalidInput(f"the target {target!r} is also listed as a feature; remove it from data.features")
    for name in (PREDICTION_COLUMN, SCORE_COLUMN):
        if name in features:
            raise InvalidInput(f"column name {name!r} is reserved for the model's output; rename the column")
    breaks = {
        column: rows
        for column, rows in (dataset.notes.get("type_breaks") or {}).items()
        if column in {*features, target}
    }
    if breaks:
        sentences = describe_type_breaks({**dataset.notes, "type_breaks": breaks})
        raise InvalidInput("; ".join(sentences) + " — fix the file, or exclude the column")

    labels = frame[target]
    missing = np.flatnonzero(labels.isna().to_numpy())
    if len(missing):
        shown = ", ".join(str(row) for row in missing[:_SHOWN])
        raise InvalidInput(
            f"target {target!r} has {len(missing)} missing value(s) (rows {shown}"
            f"{' …' if len(missing) > _SHOWN else ''}); drop or fill those rows first"
        )
    task = spec.task or _infer_task(labels)
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(labels) or pd.api.types.is_bool_dtype(labels):
            raise InvalidInput(
                f"regression needs a numeric target, but {target!r} holds {labels.dtype} values "
                f"such as {labels.iloc[0]!r}; set task = 'classification' or convert the column"
            )
    elif labels.nunique() < 2:
        raise InvalidInput(
            f"target {target!r} has a single class ({labels.iloc[0]!r}); classification needs two"
        )
    strategy = spec.cv.strategy or ("stratified" if task == "classification" else "kfold")
    if strategy == "stratified" and task != "classification":
        raise InvalidInput("cv.strategy 'stratified' only applies to classification; use 'kfold'")
    metrics = resolve_metrics(task, spec.evaluation.metrics)
    estimator = build_estimator(spec.estimator.class_path, spec.estimator.params, spec.seed)
    return _Plan(task, list(features), strategy, metrics, estimator)


def _contract(spec: TrainSpec, features: pd.DataFrame) -> Contract:
    """The contract to register: the user's file (which the training rows must satisfy), or inferred."""
    if spec.data.contract is None:
        return Contract.infer(features)
    contract = read_contract(Path(spec.data.contract))
    missing = [name for name in features.columns if name not in contract.names]
    if missing:
        raise InvalidInput(
            f"contract {Path(spec.data.contract).name!r} does not describe feature(s) {missing}"
        )
    contract.validate(features, mode="reject")
    return contract


def _require_columns(wanted: list[str], columns: list[str], kind: str) -> None:
    import difflib

    missing = [name for name in wanted if name not in columns]
    if not missing:
        return
    hints = []
    for name in missing:
        close = difflib.get_close_matches(name, columns, n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    shown = ", ".join(columns[:20]) + (" …" if len(columns) > 20 else "")
    raise InvalidInput(f"{kind}(s) {', '.join(hints)} not in the data; columns are: {shown}")


def _infer_task(labels: pd.Series) -> str:
    if pd.api.types.is_float_dtype(labels):
        return "regression"
    if pd.api.types.is_integer_dtype(labels) and labels.nunique() > _MAX_CLASSES_INFERRED:
        return "regression"
    return "classification"


def _check_folds(spec: TrainSpec, plan: _Plan, train_frame: pd.DataFrame) -> None:
    if len(train_frame) < spec.cv.folds:
        raise InvalidInput(f"{len(train_frame)} training rows cannot be split into {spec.cv.folds} folds")
    if plan.strategy != "stratified":
        return
    counts = train_frame[spec.data.target].value_counts()
    small = counts[counts < spec.cv.folds]
    if len(small):
        label, count = _plain(small.index[0]), int(small.iloc[0])
        raise InvalidInput(
            f"class {label!r} has {count} training row(s) but stratified cross-validation with "
            f"{spec.cv.folds} folds needs at least {spec.cv.folds}; lower cv.folds or add data for that class"
        )


# -- evaluation ----------------------------------------------------------------------------------------
def _predict(model: Any, features: pd.DataFrame, task: str) -> tuple[np.ndarray, np.ndarray | None]:
    predicted = np.asarray(model.predict(features))
    proba = None
    if task == "classification" and hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(features))
    return predicted, proba


def _single_row_latency(model: Any, features: pd.DataFrame, repeats: int = 25) -> float:
    if features.empty:
        return 0.0
    row = features.iloc[:1]
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict(row)
        timings.append(time.perf_counter() - started)
    return float(np.median(timings) * 1000)


def _segments(values: pd.Series) -> pd.Series:
    """Slice labels: the value itself, or a quartile range for numeric columns with many values."""
    if (
        pd.api.types.is_numeric_dtype(values)
        and not pd.api.types.is_bool_dtype(values)
        and values.nunique() > 20
    ):
        binned = pd.qcut(values, q=_SLICE_BINS, duplicates="drop")
        return binned.astype(str)
    return values.astype(object).where(values.notna(), "<missing>")


def _slices(
    spec: TrainSpec,
    plan: _Plan,
    holdout: pd.DataFrame,
    y_true: np.ndarray,
    predicted: np.ndarray,
    proba: np.ndarray | None,
    classes: list[Any] | None,
    warnings: list[str],
) -> list[SliceResult]:
    results = []
    for column in spec.evaluation.slices:
        segments = _segments(holdout[column])
        for value in sorted(segments.unique(), key=str):
            mask = (segments == value).to_numpy()
            rows = int(mask.sum())
            scores = compute_metrics(
                plan.metrics,
                y_true[mask],
                predicted[mask],
                None if proba is None else proba[mask],
                classes or (),
            )
            results.append(SliceResult(column, _plain(value), rows, scores))
            if rows < spec.evaluation.min_slice_rows:
                warnings.append(
                    f"slice {column} = {value} has {rows} hold-out row(s), fewer than "
                    f"{spec.evaluation.min_slice_rows}: its metrics are too noisy to trust"
                )
    return results


def _representativeness(
    spec: TrainSpec, plan: _Plan, train: pd.DataFrame, holdout: pd.DataFrame
) -> list[str]:
    """Warn where the hold-out holds categories training never saw."""
    warnings = []
    for column in plan.features:
        values = train[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            continue
        seen = set(values.dropna().astype(str))
        held = holdout[column].dropna().astype(str)
        unseen = held[~held.isin(seen)]
        if len(unseen):
            names = ", ".join(repr(v) for v in sorted(unseen.unique())[:_SHOWN])
            warnings.append(
                f"hold-out column {column!r} has value(s) never seen in training: {names} "
                f"({len(unseen)} row(s)); the model has not learned them"
            )
    return warnings


def _reference_profile(
    contract: Contract,
    plan: _Plan,
    train: pd.DataFrame,
    model: Any,
    out_of_fold: dict[int, Any],
    target: str,
) -> Profile:
    """Profile of the training features, the target and the model's (out-of-fold) predictions."""
    frame = train[plan.features].copy()
    frame[target] = train[target].to_numpy()
    in_sample = np.asarray(model.predict(train[plan.features]))
    predictions = np.array(
        [out_of_fold.get(i, in_sample[i]) for i in range(len(train))], dtype=in_sample.dtype
    )
    frame[PREDICTION_COLUMN] = predictions
    kinds: dict[str, Literal["numeric", "categorical"]] = {
        column.name: "categorical" if column.type in {"category", "string", "boolean"} else "numeric"
        for column in contract.columns
    }
    output_kind: Literal["numeric", "categorical"] = (
        "categorical" if plan.task == "classification" else "numeric"
    )
    kinds[target] = output_kind
    kinds[PREDICTION_COLUMN] = output_kind
    if plan.task == "classification" and hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(train[plan.features]))
        if proba.shape[1] == 2:
            frame[SCORE_COLUMN] = proba[:, 1]
            kinds[SCORE_COLUMN] = "numeric"
    layout = ProfileLayout.infer(frame, kinds=kinds)
    return Profile.build(frame, layout)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
