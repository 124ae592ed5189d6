"""The inference engine: the models a server serves, each following a reference, each version batched.

A ``ModelSlot`` is one loaded version with its contract and its batcher. A batch handler validates every
request's rows with the version's contract in one vectorised call, runs the model once on all the valid
rows, and hands each request back its own predictions — or its own contract problems. ``ServedModel``
follows a reference such as ``fraud@production`` and hot-swaps: load → warm → switch → drain → unload; if
the new version fails to load or warm, the old one keeps serving and the failure is kept for /health.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shipyard.contracts import Contract
from shipyard.errors import (
    ContractViolation,
    ModelFailed,
    NotFound,
    Overloaded,
    ShipyardError,
    not_found,
)
from shipyard.flavors.base import LoadedModel
from shipyard.ids import new_request_id
from shipyard.refs import ModelRef
from shipyard.registry import ModelVersion, Registry
from shipyard.serving.batcher import AdaptiveBatcher, BatcherClosed, BatchStats
from shipyard.serving.results import PredictionResult

log = logging.getLogger("shipyard.serving")
_WARM_ROWS = 8


@dataclass(frozen=True)
class _Job:
    frame: pd.DataFrame
    text_input: bool
    want_proba: bool
    request_id: str


@dataclass
class ModelSlot:
    """One loaded, warmed version of a model, with its own batcher."""

    name: str
    version: ModelVersion
    model: LoadedModel
    contract: Contract | None
    batcher: AdaptiveBatcher[_Job, PredictionResult] = field(init=False)
    loaded_seconds: float = 0.0

    def start(
        self, max_batch_rows: int, max_queue_rows: int, on_batch: Callable[[BatchStats], None] | None
    ) -> None:
        self.batcher = AdaptiveBatcher(
            self.handle,
            name=f"{self.name}-v{self.version.version}",
            max_batch_rows=max_batch_rows,
            max_queue_rows=max_queue_rows,
            on_batch=on_batch,
        )

    @property
    def task(self) -> str:
        return self.version.info.task

    def handle(self, jobs: Sequence[_Job]) -> list[PredictionResult | BaseException]:
        """Validate and predict a whole batch; runs on the batcher's worker thread."""
        outcomes: list[PredictionResult | BaseException | None] = [None] * len(jobs)
        accepted: list[tuple[int, pd.DataFrame]] = []
        for index, frame in self._validated(jobs, outcomes):
            accepted.append((index, frame))
        if accepted:
            frames = [frame for _, frame in accepted]
            rows = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
            want_proba = (
                self.task == "classification"
                and self.model.has_proba
                and any(jobs[index].want_proba for index, _ in accepted)
            )
            try:
                if want_proba:  # one model pass where the flavor can read labels off the probabilities
                    predictions, probabilities = self.model.predict_with_proba(rows)
                else:
                    predictions, probabilities = self.model.predict(rows), None
                predictions = np.asarray(predictions)
                probabilities = np.asarray(probabilities) if probabilities is not None else None
            except Exception:  # the model itself failed: a 500 with an id to find it in the log
                error_id = uuid.uuid4().hex[:12]
                log.exception(
                    "model %s failed on a batch of %d rows [error %s]", self.version.ref, len(rows), error_id
                )
                failure = ModelFailed(
                    f"the model {self.version.ref} failed to predict (error id {error_id})", error_id
                )
                for index, _ in accepted:
                    outcomes[index] = failure
                return [outcome if outcome is not None else failure for outcome in outcomes]
            classes = list(self.version.info.classes) if self.version.info.classes is not None else None
            start = 0
            for index, frame in accepted:
                stop = start + len(frame)
                job = jobs[index]
                outcomes[index] = PredictionResult(
                    model=self.name,
                    version=self.version.version,
                    request_id=job.request_id,
                    predictions=predictions[start:stop],
                    probabilities=probabilities[start:stop]
                    if probabilities is not None and job.want_proba
                    else None,
                    classes=classes,
                    task=self.task,
                    inputs=frame,
                    batch_rows=len(rows),
                )
                start = stop
        return [outcome if outcome is not None else RuntimeError("no outcome") for outcome in outcomes]

    def _validated(
        self, jobs: Sequence[_Job], outcomes: list[PredictionResult | BaseException | None]
    ) -> list[tuple[int, pd.DataFrame]]:
        """Each job's rows checked by the contract: one validation call per group of same-shaped requests."""
        if self.contract is None:
            return [(index, job.frame) for index, job in enumerate(jobs)]
        groups: dict[tuple[tuple[str, ...], bool], list[int]] = {}
        for index, job in enumerate(jobs):
            groups.setdefault((tuple(map(str, job.frame.columns)), job.text_input), []).append(index)
        accepted: list[tuple[int, pd.DataFrame]] = []
        for (_, text_input), members in groups.items():
            frames = [jobs[i].frame for i in members]
            combined = pd.concat(frames, ignore_index=True) if len(frames) > 1 else _positional(frames[0])
            result = self.contract.validate(combined, mode="split", text_input=text_input)
            if result.ok and len(members) == 1:
                accepted.append((members[0], result.valid))
                continue
            if result.ok:
                start = 0
                for index, frame in zip(members, frames, strict=True):
                    accepted.append((index, result.valid.iloc[start : start + len(frame)]))
                    start += len(frame)
                continue
            problems = result.problem_list()
            start = 0
            for index, frame in zip(members, frames, strict=True):
                stop = start + len(frame)
                mine = [
                    type(p)(p.row - start if p.row >= 0 else p.row, p.column, p.problem, p.value)
                    for p in problems
                    if p.row < 0 or start <= p.row < stop
                ]
                if mine:
                    outcomes[index] = ContractViolation(_summary(mine, len(frame)), mine)
                else:
                    positions = result.valid.index.to_numpy()
                    mask = (positions >= start) & (positions < stop)
                    accepted.append((index, result.valid[mask]))
                start = stop
        return accepted


def _positional(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame indexed 0…n-1, as problems report rows; a request's frame usually is already."""
    index = frame.index
    if type(index) is pd.RangeIndex and index.start == 0 and index.step == 1:
        return frame
    return frame.reset_index(drop=True)


def _summary(problems: list[Any], rows: int) -> str:
    shown = "; ".join(
        f"{'all rows' if p.row < 0 else f'row {p.row}'}, {p.column!r}: {p.problem}" for p in problems[:5]
    )
    more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
    return f"the input breaks the model's data contract: {shown}{more}"


@dataclass
class ServedModel:
    """A model name as served, following ``ref`` (an alias, a version, or the newest version)."""

    name: str
    ref: ModelRef
    current: ModelSlot | None = None
    last_error: str | None = None
    swaps: int = 0


class Engine:
    """Every served model of one server process, with hot swapping driven by ``refresh``."""

    def __init__(
        self,
        registry: Registry,
        references: Sequence[str],
        *,
        max_batch_rows: int = 512,
        max_queue_rows: int = 20_000,
        request_timeout: float = 10.0,
        trust: bool = False,
        on_batch: Callable[[str, int, BatchStats], None] | None = None,
    ) -> None:
        self.registry = registry
        self.models: dict[str, ServedModel] = {}
        for reference in references:
            parsed = ModelRef.parse(reference)
            if parsed.model in self.models:
                raise ShipyardError(f"model {parsed.model!r} is listed twice; serve each model once")
            self.models[parsed.model] = ServedModel(parsed.model, parsed)
        self.max_batch_rows = max_batch_rows
        self.max_queue_rows = max_queue_rows
        self.request_timeout = request_timeout
        self.trust = trust
        self._on_batch = on_batch
        self._lock = asyncio.Lock()

    @property
    def ready(self) -> bool:
        return all(served.current is not None for served in self.models.values())

    def served(self, name: str) -> ServedModel:
        try:
            return self.models[name]
        except KeyError:
            raise not_found("model", name, within="this server", candidates=self.models) from None

    def slot(self, name: str, version: int | None = None) -> ModelSlot:
        """The slot answering for ``name`` (optionally only if it is ``version``)."""
        served = self.served(name)
        if served.current is None:
            raise NotFound(
                f"model {name!r} is not loaded yet ({served.last_error or 'loading'}); retry shortly"
            )
        if version is not None and served.current.version.version != version:
            raise NotFound(
                f"model {name!r} serves version {served.current.version.version}, not {version}; "
                f"this server follows {served.ref}"
            )
        return served.current

    async def predict(
        self,
        name: str,
        frame: pd.DataFrame,
        *,
        version: int | None = None,
        text_input: bool = False,
        want_proba: bool = True,
        request_id: str | None = None,
    ) -> PredictionResult:
        """Predict ``frame`` with the served version of ``name``; raises the errors the protocols map (a
        request with more rows than the queue holds is the batcher's 413, refused before any validation)."""
        job = _Job(frame, text_input, want_proba, request_id or new_request_id())
        for _ in range(3):
            slot = self.slot(name, version)
            try:
                return await slot.batcher.submit(job, len(frame), timeout=self.request_timeout)
            except BatcherClosed:
                continue  # swapped out between lookup and submit: the new version takes it
        raise Overloaded(f"model {name!r} is being swapped; retry", retry_after=1.0)

    async def refresh(self) -> None:
        """Load what is not loaded and follow every reference to its current version (hot swap)."""
        async with self._lock:
            for served in self.models.values():
                await self._follow(served)

    async def _follow(self, served: ServedModel) -> None:
        try:
            target = await asyncio.to_thread(self.registry.resolve, served.ref)
        except ShipyardError as error:
            served.last_error = str(error)
            log.warning("cannot resolve %s: %s", served.ref, error)
            return
        if served.current is not None and served.current.version.version == target.version:
            served.last_error = None  # resolved and served: an earlier failure (the database away) is over
            return
        try:
            slot = await asyncio.to_thread(self._load, served.name, target)
        except Exception as error:
            served.last_error = f"{target.ref} failed to load or warm: {error}"
            log.error(
                "%s; %s keeps serving",
                served.last_error,
                served.current.version.ref if served.current else "nothing",
            )
            return
        old = served.current
        served.current = slot  # the switch: new requests go to the new version from here on
        served.last_error = None
        served.swaps += 1
        log.info("%s now serves %s", served.ref, target.ref)
        if old is not None:
            await old.batcher.drain()  # in-flight and queued requests of the old version finish first

    def _load(self, name: str, version: ModelVersion) -> ModelSlot:
        started = time.perf_counter()
        model = self.registry.load_model(version.ref, trust=self.trust)
        contract = Contract.from_dict(version.input_schema) if version.input_schema else None
        slot = ModelSlot(name, version, model, contract)
        self._warm(slot)
        slot.loaded_seconds = time.perf_counter() - started
        report = self._on_batch
        slot.start(
            self.max_batch_rows,
            self.max_queue_rows,
            (lambda stats: report(name, version.version, stats)) if report is not None else None,
        )
        return slot

    def _warm(self, slot: ModelSlot) -> None:
        """Run the model on a few realistic rows before it takes traffic (first calls pay one-off costs)."""
        sample = self._sample_rows(slot.version)
        if sample is None:
            return
        jobs = [_Job(sample, False, True, "warm-up")]
        outcome = slot.handle(jobs)[0]
        if isinstance(outcome, ContractViolation):
            log.warning("warm-up rows of %s break its own contract: %s", slot.version.ref, outcome)
        elif isinstance(outcome, BaseException):
            raise outcome

    def _sample_rows(self, version: ModelVersion) -> pd.DataFrame | None:
        holdout = ((version.training or {}).get("report") or {}).get("datasets", {}).get("holdout")
        features = ((version.training or {}).get("report") or {}).get("features")
        if holdout and features:
            try:
                return self.registry.datasets.load(holdout)[features].head(_WARM_ROWS).reset_index(drop=True)
            except ShipyardError as error:
                log.warning("no warm-up rows for %s: %s", version.ref, error)
        return None

    async def close(self) -> None:
        for served in self.models.values():
            if served.current is not None:
                await served.current.batcher.drain()
