"""Late ground truth: true labels attached to logged predictions by prediction id, whenever they arrive.

Each label is checked on its own and gets its own outcome, so one bad row never drops the others:

* ``attached`` — stored for the first time;
* ``duplicate`` — the same label was already stored (sending a file twice changes nothing);
* ``updated`` — a different label replaces the stored one (a correction);
* ``unknown`` — no logged prediction has this id (not ours, sampled out, pruned, or a typo);
* ``invalid`` — the row itself is wrong: no id, a missing or non-scalar label, or a label the model could
  not have predicted (not one of a classifier's classes, text for a regressor).

An id given more than once in one submission is treated as if its rows had been sent one after another:
each row is judged on its own (an invalid row changes nothing and marks no other row), the last valid label
is the one stored, and each valid row reports what it did at its turn (``attached``, then ``updated`` or
``duplicate``) — what a user correcting a label by sending it again would expect.

Prediction ids carry their time, so finding them reads only the log segments of those hours, each once
per submission however many hours it spans, and the labels are stored in one transaction: an interrupted
submission stores nothing, and sending it again counts each label once. A prediction answered in the last
moments may still sit in a server's write buffer: ids younger than ``settle_seconds`` that are not found yet
are looked up once more after waiting that long.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal

import pandas as pd
import pyarrow as pa

from shipyard.errors import InvalidInput, NotFound
from shipyard.ids import made_at
from shipyard.predictions import PredictionLog
from shipyard.registry import ModelVersion, Registry
from shipyard.store.feedback import PREDICTION_ID_LENGTH, FeedbackRepository, NewLabel

Status = Literal["attached", "duplicate", "updated", "unknown", "invalid"]
STATUSES: tuple[Status, ...] = ("attached", "duplicate", "updated", "unknown", "invalid")


@dataclass(frozen=True)
class LabelOutcome:
    """What happened to one submitted label (``row`` is its 0-based position in the submission)."""

    row: int
    prediction_id: str
    status: Status
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        found = {"row": self.row, "prediction_id": self.prediction_id, "status": self.status}
        return found | ({"message": self.message} if self.message else {})


@dataclass
class FeedbackReport:
    """Every submitted label's outcome; ``counts`` per status."""

    outcomes: list[LabelOutcome] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(outcome.status for outcome in self.outcomes)
        return {status: counted.get(status, 0) for status in STATUSES}

    def problems(self) -> list[LabelOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status in ("unknown", "invalid")]

    def to_dict(self, *, limit: int = 1000) -> dict[str, Any]:
        problems = self.problems()
        return {
            "received": len(self.outcomes),
            **self.counts,
            "problems": [outcome.to_dict() for outcome in problems[:limit]],
            "problems_left_out": max(0, len(problems) - limit),
        }


def attach_labels(
    registry: Registry,
    log: PredictionLog,
    labels: Iterable[tuple[object, object]],
    *,
    source: str = "api",
    settle_seconds: float = 2.0,
    progress: FeedbackProgress | None = None,
) -> FeedbackReport:
    """Attach ``(prediction_id, label)`` pairs to the logged predictions; see the module doc.

    The log is read once for the whole submission (each segment that can hold one of its ids, once) and the
    labels are stored in one transaction, so a million labels over a month of hours take well under a
    minute (bench/feedback.py), and an interrupted call stores nothing. ``progress(stage, done, total)``
    follows the two long stages: reading the log (``"reading"``, in logged rows) and storing
    (``"storing"``, in labels).
    """
    outcomes: list[LabelOutcome | None] = []
    wanted: list[tuple[int, str, Any]] = []  # rows whose id and label look right, in order
    for position, (identifier, label) in enumerate(labels):
        problem = _row_problem(identifier, label)
        if problem:
            outcomes.append(
                LabelOutcome(position, str(identifier)[:PREDICTION_ID_LENGTH], "invalid", problem)
            )
        else:
            assert isinstance(identifier, str)
            outcomes.append(None)
            wanted.append((position, identifier, label))
    found = _find(log, [identifier for _, identifier, _ in wanted], settle_seconds, progress)

    checked = _LabelCheck(registry)
    # Each id's valid labels, in order: the last is the one stored, and every row reports what it would have
    # done had the rows been sent one after another.
    accepted: dict[str, list[tuple[int, str]]] = {}
    for position, identifier, label in wanted:
        logged = found.get(identifier)
        if logged is None:
            outcomes[position] = LabelOutcome(
                position, identifier, "unknown", "no logged prediction has this id"
            )
            continue
        text, problem = checked(label, logged[0], logged[1])
        if problem:  # this row alone is refused; another row for the same id is judged on its own
            outcomes[position] = LabelOutcome(position, identifier, "invalid", problem)
            continue
        accepted.setdefault(identifier, []).append((position, text))

    for outcome in _store(registry, accepted, found, source, progress):
        outcomes[outcome.row] = outcome
    return FeedbackReport([outcome for outcome in outcomes if outcome is not None])


#: ``progress(stage, done, total)``: ``"reading"`` the log (rows) or ``"storing"`` the labels.
FeedbackProgress = Callable[[str, int, int], None]
#: What the feedback service needs of a logged prediction: model, version, time.
Logged = tuple[str, int, datetime]


def _find(
    log: PredictionLog, identifiers: list[str], settle_seconds: float, progress: FeedbackProgress | None
) -> dict[str, Logged]:
    """The logged predictions of ``identifiers``, looking once more after ``settle_seconds`` for young ids
    not found yet (they may still sit in a server's write buffer)."""
    reading = None if progress is None else partial(progress, "reading")
    found = _logged(log.find_table(identifiers, progress=reading))
    settling = [
        identifier
        for identifier in (dict.fromkeys(identifiers) if settle_seconds > 0 else ())
        if identifier not in found and _younger_than(identifier, settle_seconds)
    ]
    if settling:
        time.sleep(settle_seconds)
        found |= _logged(log.find_table(settling))
    return found


def _logged(table: pa.Table) -> dict[str, Logged]:
    identifiers, models, versions = (
        table[name].to_pylist() for name in ("prediction_id", "model", "version")
    )
    # pandas makes a million datetimes several times faster than Arrow's to_pylist
    millis = table["timestamp"].cast(pa.int64()).to_numpy()
    stamps = pd.to_datetime(millis, unit="ms", utc=True).to_pydatetime()
    return dict(zip(identifiers, zip(models, versions, stamps, strict=True), strict=True))


def feedback_pairs(document: object) -> list[tuple[object, object]]:
    """The ``(prediction_id, label)`` pairs of a feedback body.

    Two shapes are accepted: ``{"labels": [{"prediction_id": …, "label": …}, …]}`` and the columnar
    ``{"prediction_ids": […], "labels": […]}``. Row-level problems (a missing id, a bad label) are left for
    ``attach_labels`` to report per row; only a body of neither shape is refused as a whole.
    """
    if not isinstance(document, dict) or "labels" not in document:
        raise InvalidInput(
            'the body must be {"labels": [{"prediction_id": "...", "label": ...}, ...]} '
            'or {"prediction_ids": [...], "labels": [...]}'
        )
    labels = document["labels"]
    if not isinstance(labels, list):
        raise InvalidInput(f'"labels" must be a list, got {type(labels).__name__}')
    if "prediction_ids" in document:
        identifiers = document["prediction_ids"]
        if not isinstance(identifiers, list) or len(identifiers) != len(labels):
            raise InvalidInput('"prediction_ids" must be a list as long as "labels"')
        return list(zip(identifiers, labels, strict=True))
    pairs: list[tuple[object, object]] = []
    for entry in labels:
        if isinstance(entry, dict):
            pairs.append((entry.get("prediction_id"), entry.get("label")))
        else:
            pairs.append((None, entry))  # reported per row: this entry names no prediction
    return pairs


def labels_for(
    registry: Registry, model: str, version: int, start: datetime | None = None, end: datetime | None = None
) -> list[tuple[str, Any, datetime]]:
    """``(prediction_id, label, predicted_at)`` of a version's labels, for predictions in ``[start, end)``."""
    stored = FeedbackRepository(registry.db).labels_of(model, version, start, end)
    return [(identifier, json.loads(label), at) for identifier, label, at in stored]


def feedback_table(registry: Registry) -> pa.Table:
    """Every stored label as a table (what ``shipyard logs query`` shows as the view ``feedback``).

    ``label`` is the label as text (``1``, ``churn``, ``true``), so SQL can compare it with ``prediction``
    after a cast; ``label_json`` keeps its JSON type.
    """
    labels = FeedbackRepository(registry.db).all_labels()
    stamp = pa.timestamp("ms", tz="UTC")
    return pa.table(
        {
            "prediction_id": pa.array([stored.prediction_id for stored in labels], pa.string()),
            "model": pa.array([stored.model for stored in labels], pa.string()),
            "version": pa.array([stored.version for stored in labels], pa.int32()),
            "label": pa.array([_as_text(json.loads(stored.label)) for stored in labels], pa.string()),
            "label_json": pa.array([stored.label for stored in labels], pa.string()),
            "predicted_at": pa.array([stored.predicted_at for stored in labels], stamp),
            "received_at": pa.array([stored.received_at for stored in labels], stamp),
            "source": pa.array([stored.source for stored in labels], pa.string()),
        }
    )


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _row_problem(identifier: object, label: object) -> str:
    if not isinstance(identifier, str) or not identifier.strip():
        return "prediction_id must be a non-empty string"
    if len(identifier) > PREDICTION_ID_LENGTH:
        return f"prediction_id is longer than {PREDICTION_ID_LENGTH} characters"
    if label is None:
        return "label is missing"
    if isinstance(label, float) and not math.isfinite(label):
        return f"label must be a finite number, got {label}"
    if not isinstance(label, str | int | float | bool):
        return f"label must be a number, text or boolean, got {type(label).__name__}"
    return ""


def _younger_than(identifier: str, seconds: float) -> bool:
    moment = made_at(identifier)
    return moment is not None and datetime.now(UTC) - moment < timedelta(seconds=seconds)


class _LabelCheck:
    """``_checked_label`` remembered per version and label: a million labels name a handful of classes."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.versions: dict[tuple[str, int], ModelVersion | None] = {}
        self.seen: dict[tuple[str, int, type, Any], tuple[str, str]] = {}

    def __call__(self, label: Any, model: str, version: int) -> tuple[str, str]:
        """The label as JSON text of the model's own output type, or ``("", why not)``."""
        key = (model, version, type(label), label)  # 1, 1.0 and True are equal keys but not equal labels
        known = self.seen.get(key)
        if known is None:
            if (model, version) not in self.versions:
                self.versions[(model, version)] = _version(self.registry, model, version)
            value, problem = _checked_label(label, self.versions[(model, version)])
            known = ("", problem) if problem else (json.dumps(value), "")
            if len(self.seen) < _REMEMBERED_LABELS:  # regression targets are seldom repeated
                self.seen[key] = known
        return known


_REMEMBERED_LABELS = 100_000


def _version(registry: Registry, model: str, version: int) -> ModelVersion | None:
    try:
        return registry.resolve(f"{model}/{version}")
    except NotFound:
        return None


def _checked_label(label: Any, version: ModelVersion | None) -> tuple[Any, str]:
    """The label as the model's own output type, or a message saying why it cannot be one."""
    if version is None:
        return label, ""  # the version was deleted: keep the label as given
    task, classes = version.info.task, version.info.classes
    if task == "regression":
        if isinstance(label, bool) or not isinstance(label, int | float | str):
            return None, f"label {label!r} is not a number, and {version.ref} is a regression model"
        try:
            value = float(label)
        except ValueError:
            return None, f"label {label!r} is not a number, and {version.ref} is a regression model"
        if not math.isfinite(value):
            return None, f"label must be a finite number, got {label!r}"
        return value, ""
    if task == "classification" and classes:
        for known in classes:
            if _same_class(label, known):
                return known, ""
        shown = ", ".join(repr(known) for known in classes[:10]) + (" …" if len(classes) > 10 else "")
        return None, f"label {label!r} is not one of the classes of {version.ref}: {shown}"
    return label, ""


def _same_class(label: Any, known: Any) -> bool:
    """Whether a submitted label names the class ``known`` (``"1"`` and ``1.0`` name the class ``1``)."""
    if isinstance(known, bool) or isinstance(label, bool):
        return str(label).lower() == str(known).lower()
    if isinstance(known, int | float) and not isinstance(known, bool):
        try:
            return float(label) == float(known)
        except (TypeError, ValueError):
            return False
    return str(label) == str(known)


def _store(
    registry: Registry,
    accepted: dict[str, list[tuple[int, str]]],
    found: dict[str, Logged],
    source: str,
    progress: FeedbackProgress | None,
) -> list[LabelOutcome]:
    """Store each id's last valid label in one transaction; each row's outcome, as if sent one by one."""
    labels = {}
    for identifier, rows in accepted.items():
        model, version, predicted_at = found[identifier]
        labels[identifier] = NewLabel(model, version, predicted_at, rows[-1][1])
    storing = None if progress is None else partial(progress, "storing")
    stored = FeedbackRepository(registry.db).store(
        labels, source=source, received_at=datetime.now(UTC), progress=storing
    )
    outcomes: list[LabelOutcome] = []
    for identifier, rows in accepted.items():
        result = stored.results[identifier]
        if result == "no_model":
            message = f"model {labels[identifier].model!r} is no longer registered"
            outcomes.extend(LabelOutcome(position, identifier, "unknown", message) for position, _ in rows)
            continue
        if len(rows) == 1:
            outcomes.append(LabelOutcome(rows[0][0], identifier, result))
            continue
        previous = stored.before.get(identifier)
        for position, label in rows:
            status: Status = (
                "attached" if previous is None else "duplicate" if previous == label else "updated"
            )
            outcomes.append(LabelOutcome(position, identifier, status))
            previous = label
    return outcomes
