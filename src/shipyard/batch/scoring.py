"""Scoring one chunk: validate with the version's contract, predict, and write its part and reject files.

This runs in the local engine's threads (sharing one model load), in a worker process or in a Ray actor (one
model load each); everything it needs travels in a ``ScoringPlan``. The model runs on the valid rows at
once; if it raises, the rows are halved until the rows it cannot score are found one by one, and those go to
the reject file with the model's error: one bad row never costs a chunk its predictions.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from shipyard.batch.event_times import event_times
from shipyard.batch.inputs import Chunk
from shipyard.batch.manifest import REJECTS
from shipyard.contracts import Contract
from shipyard.flavors.base import LoadedModel
from shipyard.ids import derived_request_id, prediction_id
from shipyard.predictions.records import TIMESTAMP, PredictionRecord, to_table
from shipyard.predictions.segments import SegmentStore, hour_of
from shipyard.registry import ModelVersion

log = logging.getLogger("shipyard.batch")

#: Output columns besides the key columns.
PREDICTION = "prediction"
MODEL_VERSION = "model_version"
RUN_ID = "run_id"
PREDICTION_ID = "prediction_id"
#: Reject file columns before the row's own values (kept as text).
REJECT_COLUMNS = ("_file", "_row", "_column", "_reason")
_HOUR_MS = 3_600_000


@dataclass(frozen=True)
class ScoringPlan:
    """What a worker needs to score chunks: where the registry is, which version, where outputs go."""

    home: str
    registry_url: str
    artifacts_url: str
    reference: str  # the exact version, e.g. fraud/3
    output: str
    format: str
    run_id: str
    key_columns: list[str] | None
    input_paths: list[str]
    input_formats: list[str]
    trust: bool = False
    log_url: str | None = None  # write the scored rows to the prediction log too
    started_at: str = ""  # when the run began: the time its logged predictions carry…
    timestamp_column: str | None = None  # …unless this input column says when each row happened


@dataclass
class ChunkOutcome:
    key: str
    rows: int
    scored: int
    rejected: int
    output: str | None
    rejects: str | None
    seconds: float
    #: A few of the chunk's problems, for the run's summary: (file, row, column, reason).
    examples: list[tuple[str, int, str, str]] = field(default_factory=list)

    @classmethod
    def from_dict(cls, key: str, data: dict[str, Any]) -> ChunkOutcome:
        examples = [(str(f), int(r), str(c), str(why)) for f, r, c, why in data.get("examples", [])]
        return cls(
            key, data["rows"], data["scored"], data["rejected"], data["output"], data["rejects"],
            data["seconds"], examples,
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "scored": self.scored,
            "rejected": self.rejected,
            "output": self.output,
            "rejects": self.rejects,
            "seconds": round(self.seconds, 3),
            "examples": [list(example) for example in self.examples],
        }


@dataclass
class CheckedChunk:
    """A chunk read and checked against the contract: what is left is to predict its valid rows and write."""

    chunk: Chunk
    frame: pd.DataFrame  # the chunk as read, for the reject file
    valid: pd.DataFrame  # the rows that meet the contract, indexed by their positions in the chunk
    reasons: dict[int, list[tuple[str, str]]]  # why each other row was rejected
    seconds: float  # spent checking


class ChunkScorer:
    """Loads the version once; scores chunk after chunk.

    Scoring is two steps: ``check`` needs only the version's contract, ``finish`` needs the model. So a
    caller still loading the model (``loaded`` holding a future) can check its first chunks meanwhile.
    """

    def __init__(
        self,
        plan: ScoringPlan,
        loaded: tuple[ModelVersion, LoadedModel | Future[LoadedModel]] | None = None,
    ) -> None:
        """``loaded``: the version and its model (or the model still loading), when the caller has them."""
        self.plan = plan
        if loaded is None:
            loaded = load_version(plan)
        self.version, self._model = loaded
        self.contract = Contract.from_dict(self.version.input_schema) if self.version.input_schema else None
        self.features = (
            self.contract.names if self.contract is not None else list(self.version.info.feature_names or [])
        )
        self.classes = list(self.version.info.classes) if self.version.info.classes is not None else None
        self.output = Path(plan.output)
        self.log = SegmentStore(plan.log_url) if plan.log_url else None

    @property
    def model(self) -> LoadedModel:
        """The loaded model; waits for it while it loads (and raises what loading raised)."""
        return self._model.result() if isinstance(self._model, Future) else self._model

    def score(self, chunk: Chunk) -> ChunkOutcome:
        return self.finish(self.check(chunk))

    def check(self, chunk: Chunk) -> CheckedChunk:
        """The chunk as a frame, checked against the contract (no model needed)."""
        started = time.perf_counter()
        text = self.plan.input_formats[chunk.file_index] == "csv"
        frame = chunk.table.to_pandas()
        reasons: dict[int, list[tuple[str, str]]] = {}
        valid = self._validate(frame, text, reasons)
        return CheckedChunk(chunk, frame, valid, reasons, time.perf_counter() - started)

    def finish(self, checked: CheckedChunk) -> ChunkOutcome:
        """Predict the checked chunk's valid rows, then write its part file, its rejects and its log."""
        started = time.perf_counter() - checked.seconds  # the chunk's own time: no wait for the model
        chunk, frame, reasons = checked.chunk, checked.frame, checked.reasons
        file = self.plan.input_paths[chunk.file_index]
        valid = checked.valid
        predictions, probabilities, kept = self._predict(valid, reasons)
        outcome = ChunkOutcome(chunk.key, len(frame), len(kept), len(reasons), None, None, 0.0)
        if len(kept):
            order = np.argsort(kept, kind="stable")  # input order, whatever order bisection found them in
            kept, predictions = kept[order], predictions[order]
            probabilities = probabilities[order] if probabilities is not None else None
            ids = self._log(chunk, valid, kept, predictions, probabilities, started)
            outcome.output = self._write_predictions(chunk, kept, predictions, probabilities, ids)
        if reasons:
            outcome.rejects = self._write_rejects(chunk, file, frame, reasons)
            for row in sorted(reasons)[:3]:
                column, reason = reasons[row][0]
                outcome.examples.append((file, chunk.first_row + row, column, reason))
        outcome.seconds = time.perf_counter() - started
        return outcome

    # -- validation and prediction -------------------------------------------------------------------------
    def _validate(
        self, frame: pd.DataFrame, text: bool, reasons: dict[int, list[tuple[str, str]]]
    ) -> pd.DataFrame:
        """The rows that meet the contract (positions 0…n-1 as index), the reasons of the others."""
        frame = frame.reset_index(drop=True)
        if self.contract is None:
            missing = [name for name in self.features if name not in frame.columns]
            if missing:
                for row in range(len(frame)):
                    reasons[row] = [(name, "missing_column") for name in missing]
                return frame.iloc[0:0]
            return frame[self.features] if self.features else frame
        present = [name for name in self.contract.names if name in frame.columns]
        result = self.contract.validate(frame[present], mode="split", text_input=text)
        if result.ok:
            return result.valid
        problems = result.problems
        for row, column, problem, value in zip(
            problems["row"].tolist(),
            problems["column"].tolist(),
            problems["problem"].tolist(),
            problems["value"].tolist(),
            strict=True,
        ):
            reason = f"{problem} ({value})" if value not in ("", None) else str(problem)
            rows = range(len(frame)) if row < 0 else (row,)
            for position in rows:
                reasons.setdefault(int(position), []).append((str(column), reason))
        return result.valid[~result.valid.index.isin(list(reasons))]

    def _predict(
        self, valid: pd.DataFrame, reasons: dict[int, list[tuple[str, str]]]
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Predictions for ``valid`` (and probabilities), and the positions they belong to; rows the model
        raises on are found by halving and added to ``reasons``."""
        positions = valid.index.to_numpy()
        if not len(valid):
            return np.zeros(0), None, positions
        try:
            predictions, probabilities = self._run(valid)
            return predictions, probabilities, positions
        except Exception as error:
            log.warning("the model raised on a chunk; finding the rows it cannot score (%s)", error)
        parts: list[tuple[np.ndarray, np.ndarray | None, np.ndarray]] = []
        self._bisect(valid, reasons, parts)
        if not parts:
            return np.zeros(0), None, np.zeros(0, dtype=positions.dtype)
        predictions = np.concatenate([part[0] for part in parts])
        probabilities = None if parts[0][1] is None else np.concatenate([part[1] for part in parts])
        return predictions, probabilities, np.concatenate([part[2] for part in parts])

    def _bisect(
        self,
        rows: pd.DataFrame,
        reasons: dict[int, list[tuple[str, str]]],
        parts: list[tuple[np.ndarray, np.ndarray | None, np.ndarray]],
    ) -> None:
        try:
            predictions, probabilities = self._run(rows)
            parts.append((predictions, probabilities, rows.index.to_numpy()))
            return
        except Exception as error:
            if len(rows) == 1:
                reasons[int(rows.index[0])] = [
                    ("-", f"the model raised {type(error).__name__}: {error}"[:300])
                ]
                return
        middle = len(rows) // 2
        self._bisect(rows.iloc[:middle], reasons, parts)
        self._bisect(rows.iloc[middle:], reasons, parts)

    def _run(self, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        if self.version.info.task == "classification" and self.model.has_proba:
            predictions, probabilities = self.model.predict_with_proba(rows)
            return np.asarray(predictions), None if probabilities is None else np.asarray(probabilities)
        return np.asarray(self.model.predict(rows)), None

    # -- writing -------------------------------------------------------------------------------------------
    def _log(
        self,
        chunk: Chunk,
        valid: pd.DataFrame,
        kept: np.ndarray,
        predictions: np.ndarray,
        probabilities: np.ndarray | None,
        started: float,
    ) -> list[str] | None:
        """Write the chunk's predictions to the prediction log, as requests of protocol ``batch``; their
        prediction ids in row order (the same on a resumed run), or None when the run does not log.

        Stamped with the run's start, the chunk is one request. With a timestamp column, each row carries
        its own time and the chunk is one request per hour its rows fall in (a segment in that hour's
        folder, its request id stamped with its first row's time, so ids still tell the hour)."""
        if self.log is None:
            return None
        inputs = valid.loc[kept].reset_index(drop=True)
        latency = time.perf_counter() - started
        if self.plan.timestamp_column is None:
            at = datetime.fromisoformat(self.plan.started_at)
            times = np.full(len(kept), round(at.timestamp() * 1000), dtype=np.int64)
        else:
            column = chunk.table[self.plan.timestamp_column].take(pa.array(kept, pa.int64()))
            times = event_times(column, self.plan.timestamp_column, self.plan.input_paths[chunk.file_index])
        hours = times // _HOUR_MS
        ids: list[str] = [""] * len(kept)
        for hour in np.unique(hours):
            rows = np.flatnonzero(hours == hour)
            first = datetime.fromtimestamp(int(times[rows].min()) / 1000, tz=UTC)
            seed = f"{self.plan.run_id}/{chunk.key}"
            name = f"batch-{self.plan.run_id}-{chunk.key}.parquet"
            if self.plan.timestamp_column is not None:
                seed, name = (
                    f"{seed}/{int(hour)}",
                    f"batch-{self.plan.run_id}-{chunk.key}-{int(hour)}.parquet",
                )
            request = derived_request_id(first, seed)
            record = PredictionRecord(
                request_id=request,
                prediction_ids=[prediction_id(request, row) for row in range(len(rows))],
                at=first,
                model=self.version.model,
                version=self.version.version,
                protocol="batch",
                inputs=inputs.iloc[rows].reset_index(drop=True),
                predictions=predictions[rows],
                probabilities=None if probabilities is None else probabilities[rows],
                latency_seconds=latency,
                batch_rows=len(predictions),
            )
            table = to_table([record], 1.0)
            table = table.set_column(
                table.schema.get_field_index("timestamp"), "timestamp", pa.array(times[rows], TIMESTAMP)
            )
            # A fixed name: a chunk scored again after a crash replaces its segment instead of doubling it.
            self.log.write(
                self.log.hour_folder(self.version.model, self.version.version, hour_of(first)), name, table
            )
            for position, pid in zip(rows, record.prediction_ids, strict=True):
                ids[position] = pid
        return ids

    def _write_predictions(
        self,
        chunk: Chunk,
        kept: np.ndarray,
        predictions: np.ndarray,
        probabilities: np.ndarray | None,
        ids: list[str] | None,
    ) -> str:
        keys = self.plan.key_columns
        if keys is None:
            keys = [name for name in chunk.table.column_names if name not in self.features]
        take = pa.array(kept, pa.int64())
        columns: dict[str, pa.Array] = {
            name: chunk.table[name].take(take) for name in keys if name in chunk.table.column_names
        }
        if ids is not None:
            columns[PREDICTION_ID] = pa.array(ids, pa.string())
        columns[PREDICTION] = _values(predictions)
        if probabilities is not None and self.classes is not None and probabilities.ndim == 2:
            for index, label in enumerate(self.classes):
                columns[f"proba_{label}"] = pa.array(probabilities[:, index])
        count = len(kept)
        columns[MODEL_VERSION] = pa.repeat(pa.scalar(self.version.ref, pa.string()), count)
        columns[RUN_ID] = pa.repeat(pa.scalar(self.plan.run_id, pa.string()), count)
        table = pa.table(columns)
        name = f"part-{chunk.key}.{'csv' if self.plan.format == 'csv' else 'parquet'}"
        _write_table(table, self.output / name, self.plan.format)
        return name

    def _write_rejects(
        self, chunk: Chunk, file: str, frame: pd.DataFrame, reasons: dict[int, list[tuple[str, str]]]
    ) -> str:
        rows = sorted(reasons)
        values = frame.iloc[rows].astype(object).where(frame.iloc[rows].notna(), None)
        table = pa.table(
            {
                "_file": pa.array([file] * len(rows), pa.string()),
                "_row": pa.array([chunk.first_row + row for row in rows], pa.int64()),
                "_column": pa.array([", ".join(dict.fromkeys(c for c, _ in reasons[row])) for row in rows]),
                "_reason": pa.array(["; ".join(f"{c}: {r}" for c, r in reasons[row]) for row in rows]),
                **{
                    str(name): pa.array(
                        [None if v is None else str(v) for v in values[name].tolist()], pa.string()
                    )
                    for name in frame.columns
                    if str(name) not in REJECT_COLUMNS
                },
            }
        )
        folder = self.output / REJECTS
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{REJECTS}/part-{chunk.key}.parquet"
        _write_table(table, self.output / name, "parquet")
        return name


def load_version(plan: ScoringPlan) -> tuple[ModelVersion, LoadedModel]:
    from shipyard.registry import Registry

    with Registry(
        home=plan.home, registry_url=plan.registry_url, artifacts_url=plan.artifacts_url
    ) as registry:
        return registry.resolve(plan.reference), registry.load_model(plan.reference, trust=plan.trust)


def _values(values: np.ndarray) -> pa.Array:
    if values.dtype.kind in "biuf":
        return pa.array(values)
    return pa.array(values.tolist())


def _write_table(table: pa.Table, path: Path, format: str) -> None:
    """Write whole under a temporary name, then rename: a part file exists complete or not at all."""
    temporary = path.with_name(f".{path.name}.tmp")
    if format == "csv":
        pa_csv.write_csv(table, temporary)
    else:
        # Floating-point columns (probabilities, scores) are nearly all distinct: a dictionary costs them
        # time and space (a third of a part file's writing). Labels, keys, version and run id repeat: they
        # keep one.
        repeating = [field.name for field in table.schema if not pa.types.is_floating(field.type)]
        pq.write_table(table, temporary, compression="zstd", use_dictionary=repeating)
    temporary.replace(path)
