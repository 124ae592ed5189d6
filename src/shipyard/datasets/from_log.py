"""Production data as a dataset version: the logged inputs of a model, joined with their late labels.

``dataset_from_log`` turns a window of the prediction log into a content-addressed dataset version, so a model
retrained on production data has lineage that points at exactly the rows it learned from. Each row is one
logged prediction (one prediction id) of the model in ``[start, end)``:

* its logged input columns, as the server validated them;
* ``prediction_id``, ``timestamp`` (when it was answered) and ``version`` (the model version that answered);
* ``_prediction``: what that version predicted — the name training reserves for a model's output, so a
  spec that forgets to leave it out fails instead of learning from the old model's answers;
* the label column (``target``) when ``labelled``: rows without a label are left out.

Training uses every column but the target as a feature unless told otherwise, so a spec reading such a
dataset lists ``exclude = ["prediction_id", "timestamp", "version", "_prediction"]`` (or its ``features``).

Only answers a client received are training rows: shadow answers (arm ``shadow``, ids ending ``-shadow``) are
the candidate's replies to mirrored copies, never returned and never labelled, and are left out. The
feedback store keeps one label per prediction id — a corrected label replaces the earlier one when it
arrives — so the label joined is always the latest. A prediction id logged twice (a replayed segment)
gives one row.

Input columns that change within the window (versions with different contracts) are refused rather than
united with nulls: the nulls would be made up, and the retrained model would learn from them. Choose the
versions (``versions=``, CLI ``--version``) or a window with one set of input columns.

The version's ``notes["lineage"]`` records where the rows came from: the source (``prediction-log``), model,
window, each log segment read with its rows used, label counts and the model versions seen. Identical rows
give the identical version (content addressing), whose lineage is that of the first time they were stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.datasets.catalog import DatasetCatalog
from shipyard.errors import InvalidInput, NotFound
from shipyard.predictions import PredictionLog, Segment
from shipyard.predictions.records import PREDICTION_COLUMN
from shipyard.store.database import Database
from shipyard.store.datasets import DatasetVersion
from shipyard.store.feedback import FeedbackRepository
from shipyard.store.models import ModelVersion, RegisteredModel

SOURCE = "prediction-log"
SHADOW_ARM = "shadow"
SHADOW_SUFFIX = "-shadow"
DEFAULT_TARGET = "label"
#: The columns a dataset from the log adds beside the logged inputs (and the label).
LOG_COLUMNS = ("prediction_id", "timestamp", "version", PREDICTION_COLUMN)
_READ = ["prediction_id", "timestamp", "version", "arm", "inputs", "prediction"]


class RegistryLike(Protocol):
    """What this module needs of ``shipyard.Registry`` (which it cannot import: the registry imports the
    dataset catalog)."""

    db: Database

    @property
    def datasets(self) -> DatasetCatalog: ...

    def get_model(self, name: str) -> RegisteredModel: ...

    def list_versions(self, name: str) -> list[ModelVersion]: ...


@dataclass
class _Read:
    """The rows read from the log, and what lineage says about them."""

    tables: list[pa.Table] = field(default_factory=list)
    segments: list[dict[str, Any]] = field(default_factory=list)
    shadow_rows: int = 0
    versions: set[int] = field(default_factory=set)
    #: Each set of input columns seen, with the first version that logged it (and the columns in its order).
    layouts: dict[frozenset[str], tuple[int, list[str]]] = field(default_factory=dict)


def dataset_from_log(
    registry: RegistryLike,
    log: PredictionLog,
    model: str,
    *,
    start: datetime,
    end: datetime,
    labelled: bool = True,
    target: str | None = None,
    name: str | None = None,
    versions: list[int] | None = None,
    reason: str = "",
) -> DatasetVersion:
    """Store the logged predictions of ``model`` in ``[start, end)`` as a dataset version; see the module doc.

    ``labelled`` keeps only rows with a label and adds it as ``target`` (default: the target the model was
    trained on, else ``label``); ``labelled=False`` keeps every row, its label null where none arrived.
    ``name`` defaults to ``<model>-labelled`` (or ``<model>-logged``); ``versions`` limits the model versions
    read. Naive times are UTC.
    """
    registry.get_model(model)  # NotFound naming the closest models
    start, end = _window(start, end)
    read = _read_log(log, model, _versions(log, model, versions), start, end)
    if not read.tables:
        raise NotFound(_nothing_logged(log, model, start, end))
    _check_same_inputs(model, read.layouts)
    rows, duplicates = _rows(read.tables)
    column = target or _trained_target(registry, model, sorted(read.versions))
    rows, counts = _with_labels(registry.db, model, rows, column, labelled, (start, end))
    lineage = {
        "source": SOURCE,
        "model": model,
        "window": {"start": start.isoformat(), "end": end.isoformat()},
        "labelled": labelled,
        "target": column,
        "versions": sorted(read.versions),
        "segments": read.segments,
        "rows": len(rows),
        "labels": counts,
        "shadow_rows_left_out": read.shadow_rows,
        "duplicate_rows_left_out": duplicates,
    }
    dataset = name or f"{model}-{'labelled' if labelled else 'logged'}"
    return registry.datasets.add(
        dataset,
        rows,
        reason=reason or f"from the prediction log of {model}",
        source=SOURCE,
        notes={"lineage": lineage},
    )


def _window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    start, end = (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment for moment in (start, end))
    if end <= start:
        raise InvalidInput(
            f"the window's start must come before its end; got {start.isoformat()} and {end.isoformat()} "
            "(CLI: --from before --to)"
        )
    return start.astimezone(UTC), end.astimezone(UTC)


def _versions(log: PredictionLog, model: str, wanted: list[int] | None) -> list[int]:
    logged = log.store.versions(model)
    if wanted is None:
        return logged
    unknown = sorted(set(wanted) - set(logged))
    if unknown:
        shown = ", ".join(map(str, logged)) or "none"
        raise NotFound(
            f"model {model!r} has no logged predictions of version(s) {', '.join(map(str, unknown))} "
            f"(versions in the log: {shown})"
        )
    return sorted(set(wanted))


def _read_log(log: PredictionLog, model: str, versions: list[int], start: datetime, end: datetime) -> _Read:
    """Every answered (not shadow) logged row in the window, segment by segment, with lineage."""
    read = _Read()
    store = log.store
    for version in versions:
        for segment in log.segments(model, version, start, end):
            used = 0
            for group in store.row_groups(segment, _READ):
                table, shadows = _answered_in(group, start, end)
                read.shadow_rows += shadows
                if table.num_rows:
                    names = [column.name for column in table["inputs"].type]
                    read.layouts.setdefault(frozenset(names), (version, names))
                    read.versions.add(version)
                    read.tables.append(table)
                    used += table.num_rows
            if used:
                read.segments.append(_segment_entry(store.root, segment, used))
    return read


def _answered_in(group: pa.Table, start: datetime, end: datetime) -> tuple[pa.Table, int]:
    """The row group's rows in ``[start, end)`` that a client received, and how many shadow rows it held."""
    stamps = group["timestamp"]
    inside = pc.and_(
        pc.greater_equal(stamps, pa.scalar(start, stamps.type)), pc.less(stamps, pa.scalar(end, stamps.type))
    )
    group = group.filter(inside)
    shadow = pc.ends_with(group["prediction_id"], SHADOW_SUFFIX)
    if "arm" in group.column_names:  # segments older than rollouts have no arm: every row was stable
        shadow = pc.or_(shadow, pc.fill_null(pc.equal(group["arm"], SHADOW_ARM), False))
    shadows = pc.sum(shadow.cast(pa.int64())).as_py() or 0
    answered = group.filter(pc.invert(shadow))
    return answered.select(["prediction_id", "timestamp", "version", "inputs", "prediction"]), shadows


def _segment_entry(root: str, segment: Segment, used: int) -> dict[str, Any]:
    """A segment as lineage names it: its path under the log's root (not this machine's), rows used."""
    path = segment.path[len(root) :].lstrip("/") if segment.path.startswith(root) else segment.path
    return {"path": path, "version": segment.version, "rows": segment.rows, "rows_used": used}


def _check_same_inputs(model: str, layouts: dict[frozenset[str], tuple[int, list[str]]]) -> None:
    if len(layouts) <= 1:
        return
    described = "; ".join(
        f"{model}/{version} logged {', '.join(columns)}" for version, columns in sorted(layouts.values())
    )
    raise InvalidInput(
        f"the input columns of {model} changed within the window ({described}); a dataset needs one set of "
        "columns — choose the versions (CLI: --version N) or a window where the inputs did not change"
    )


def _rows(tables: list[pa.Table]) -> tuple[pd.DataFrame, int]:
    """One frame: inputs flattened, one row per prediction id, ordered by time then id (same rows, same
    bytes, same dataset version); and how many logged duplicates were left out."""
    order = [field.name for field in tables[0]["inputs"].type]
    _check_names(order)
    frames = []
    for table in tables:
        inputs = table["inputs"].combine_chunks()
        columns = {name: inputs.field(name) for name in order}
        meta = {name: table[name] for name in ("prediction_id", "timestamp", "version")}
        frames.append(pa.table({**columns, **meta, PREDICTION_COLUMN: table["prediction"]}))
    combined = pa.concat_tables(frames, promote_options="permissive")
    # Sorted and de-duplicated in Arrow: pandas took five times as long to factorise the million ids.
    combined = combined.take(
        pc.sort_indices(combined, [("timestamp", "ascending"), ("prediction_id", "ascending")])
    )
    unique = combined.filter(_first_of_each_id(combined["prediction_id"].combine_chunks()))
    return unique.to_pandas(), len(combined) - len(unique)


def _first_of_each_id(identifiers: pa.Array) -> pa.Array:
    """Which rows hold the first occurrence of their id: a stable sort by id puts the occurrences of an id
    side by side in row order, and every one after the first is left out."""
    by_id = pc.sort_indices(identifiers)  # stable
    grouped = identifiers.take(by_id)
    repeated = pc.equal(grouped.slice(1), grouped.slice(0, len(grouped) - 1))
    keep = np.ones(len(identifiers), dtype=bool)
    keep[pc.filter(by_id.slice(1), repeated).to_numpy()] = False
    return pa.array(keep)


def _check_names(inputs: list[str]) -> None:
    clashes = [name for name in inputs if name in LOG_COLUMNS]
    if clashes:
        raise InvalidInput(
            f"the model's input column(s) {', '.join(map(repr, clashes))} have the name of a column a "
            f"dataset from the log adds ({', '.join(LOG_COLUMNS)}); export the rows with "
            "'shipyard logs query' instead"
        )


def _trained_target(registry: RegistryLike, model: str, seen: list[int]) -> str:
    """The target column the model was trained on (newest version seen with a training report first)."""
    known = {version.version: version for version in registry.list_versions(model)}
    candidates = [known[number] for number in reversed(seen) if number in known]
    candidates += [version for number, version in sorted(known.items(), reverse=True) if number not in seen]
    for version in candidates:
        training = version.training or {}
        target = (training.get("report") or {}).get("target") or (
            ((training.get("spec") or {}).get("data") or {}).get("target")
        )
        if isinstance(target, str) and target:
            return target
    return DEFAULT_TARGET


def _with_labels(
    db: Database,
    model: str,
    rows: pd.DataFrame,
    target: str,
    labelled: bool,
    window: tuple[datetime, datetime],
) -> tuple[pd.DataFrame, dict[str, int]]:
    """``rows`` with the label column; only labelled rows when ``labelled``. Counts for lineage."""
    if target in rows.columns:
        raise InvalidInput(
            f"the target {target!r} is already a column of the logged rows; name the label column "
            "otherwise (CLI: --target NAME)"
        )
    found, has_label = _joined_labels(FeedbackRepository(db), model, rows, window)
    counts = {"labelled_rows": int(has_label.sum()), "unlabelled_rows": int((~has_label).sum())}
    if labelled and not has_label.any():
        raise NotFound(
            f"none of the {len(rows):,} logged predictions of {model} in the window has a label yet; attach "
            "labels with 'shipyard feedback add' (or POST /feedback), or take every row with --all"
        )
    rows = rows.assign(**{target: found})
    if labelled:
        rows = rows[has_label.to_numpy()].reset_index(drop=True)
        counts["unlabelled_rows_left_out"] = counts["unlabelled_rows"]
    rows[target] = rows[target].infer_objects()  # labels come as JSON values: ints, floats, text, booleans
    return rows, counts


def _joined_labels(
    repository: FeedbackRepository, model: str, rows: pd.DataFrame, window: tuple[datetime, datetime]
) -> tuple[pd.Series, pd.Series]:
    """Each row's label (decoded from JSON, None where it has none) and which rows have one.

    Vectorised for a million rows: the rows' ids are looked up among the labels' ids in one hash lookup
    (pandas' index: a third of the time of Arrow's ``index_in``), and a million labels hold a handful of
    distinct texts, each decoded once. The labels come out as Python values (object dtype): their type is
    inferred after the unlabelled rows are left out, so integer labels stay integers.
    """
    identifiers: list[str] = []
    texts: list[str] = []
    for version in sorted(rows["version"].unique()):
        stored = repository.label_columns(model, int(version), *window)
        identifiers += stored.prediction_ids
        texts += stored.labels
    # Ids are unique among labels (one label per prediction), as the index lookup requires.
    position = pd.Index(pa.array(identifiers, pa.string()).to_pandas()).get_indexer(rows["prediction_id"])
    encoded = pa.array(texts, pa.string()).dictionary_encode()
    distinct = encoded.dictionary.to_pylist()
    decoded = np.empty(len(distinct) + 1, dtype=object)  # the last one, None, for rows without a label
    for index, text in enumerate(distinct):
        decoded[index] = json.loads(text)
    codes = np.append(encoded.indices.to_numpy(), len(distinct))  # position -1 (no label) takes the last
    found = pd.Series(decoded[codes[position]], index=rows.index)  # typed once the unlabelled rows are out
    return found, pd.Series(position >= 0, index=rows.index, dtype=bool)


def _nothing_logged(log: PredictionLog, model: str, start: datetime, end: datetime) -> str:
    """Why the window is empty, and where the model's logged hours are."""
    hours = sorted(hour for version in log.store.versions(model) for hour in log.store.hours(model, version))
    window = f"between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC"
    if not hours:
        return (
            f"model {model!r} has no logged predictions at all; serve it with logging on "
            "(shipyard serve --log)"
        )
    return (
        f"model {model!r} has no logged predictions {window}; its log covers "
        f"{hours[0]:%Y-%m-%d %H:00} to {hours[-1]:%Y-%m-%d %H:59} UTC — choose a window there"
    )
