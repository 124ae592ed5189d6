"""The inference engine: the models a server serves, each following a reference, each version batched.

A ``ModelSlot`` is one loaded version with its contract and its batcher. A batch handler validates every
request's rows with the version's contract in one vectorised call, runs the model once on all the valid
rows, and hands each request back its own predictions — or its own contract problems. ``ServedModel``
follows a reference such as ``fraud@production`` and hot-swaps: load → warm → switch → drain → unload; if
the new version fails to load or warm, the old one keeps serving and the failure is kept for /health.

During a rollout a served model holds a second slot, the candidate, and a ``Split`` (``shipyard.rollouts.
routing``) saying how live traffic divides between them. ``predict`` picks each request's arm: ``stable`` or
``canary`` by ``choose_arm`` (sticky by a routing key's value, else weighted random); with a shadow split,
once stable has answered, a copy goes to the candidate off the request path, at most
``max_shadow_requests`` copies in flight per model (more are dropped and counted, never waited for), and
its answer comes back on the result for the prediction log only. Splits change with ``set_split`` or, on
every ``refresh``, from ``split_source``; a change never fails a request: the new routing takes new
requests at once, and a candidate that leaves drains what it holds first, as a hot swap does.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

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
from shipyard.registry.samples import sample_rows
from shipyard.rollouts.routing import Split, choose_arm, key_value
from shipyard.serving.batcher import AdaptiveBatcher, BatcherClosed, BatchStats
from shipyard.serving.results import Arm, PredictionResult, ShadowAnswer

log = logging.getLogger("shipyard.serving")
#: After a candidate failed to load or warm, how long before a refresh tries it again.
_CANDIDATE_RETRY_SECONDS = 30.0
#: After the version a reference names failed to load or warm (its artifact missing or corrupt, its format
#: unloadable), how long before a refresh tries it again: each try re-reads and re-hashes the whole artifact,
#: and logs the failure, so once a second would be a steady cost on a broken version that can wait.
LOAD_RETRY_SECONDS = 10.0

#: Before ``split_source`` was first read: unequal to every split, None included.
_UNREAD = object()

#: ``split_source(model, alias) -> Split | None``: the rollout a server follows for a model's alias.
SplitSource = Callable[[str, str], Split | None]
#: ``on_route(version, arm)``: which version and arm a request went to (its failure is counted there).
RouteListener = Callable[[int, Arm], None]
#: ``on_shadow(model, version, outcome)``: a mirrored copy ``answered``, ``failed`` or ``dropped``.
ShadowListener = Callable[[str, int, str], None]


@dataclass(frozen=True)
class _Job:
    slot: ModelSlot
    frame: pd.DataFrame
    text_input: bool
    want_proba: bool
    request_id: str
    arm: Arm = "stable"


def _handle(jobs: Sequence[_Job]) -> list[PredictionResult | BaseException]:
    """A model batcher's handler: the batcher calls it once per lane, so every job names the same slot."""
    return jobs[0].slot.handle(jobs)


#: A slot's lane in its model's batcher: its version and a number no other slot of this process has.
Lane = tuple[int, int]
_SERIALS = itertools.count()


@dataclass
class ModelSlot:
    """One loaded, warmed version of a model; its requests go through the model's batcher in its lane."""

    name: str
    version: ModelVersion
    model: LoadedModel
    contract: Contract | None
    loaded_seconds: float = 0.0
    lane: Lane = field(init=False)

    def __post_init__(self) -> None:
        self.lane = (self.version.version, next(_SERIALS))

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
                    arm=job.arm,
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
        # Requests decoded alike share one column Index object: its names are read once, not per request
        # (iterating pandas' Arrow-backed labels costs more than a small request's validation).
        names: dict[int, tuple[str, ...]] = {}
        for index, job in enumerate(jobs):
            columns = job.frame.columns
            named = names.get(id(columns))
            if named is None:
                named = names[id(columns)] = tuple(map(str, columns))
            groups.setdefault((named, job.text_input), []).append(index)
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


def _recent_failure(served: ServedModel, version: int) -> str | None:
    """Why ``version`` failed to load for ``served``, if it did less than the back-off ago."""
    failure = served.load_failure
    if failure is None or failure[0] != version or time.monotonic() - failure[1] >= LOAD_RETRY_SECONDS:
        return None
    return failure[2]


def _batch_reporter(
    name: str, on_batch: Callable[[str, int, BatchStats], None] | None
) -> Callable[[BatchStats], None] | None:
    """The batcher's ``on_batch`` for model ``name``: each lane's call reported with its version."""
    if on_batch is None:
        return None
    return lambda stats: on_batch(name, cast(Lane, stats.lane)[0], stats)


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
    #: Every version's requests, in one queue and one batch cycle, each version in its own lane.
    batcher: AdaptiveBatcher[_Job, PredictionResult]
    current: ModelSlot | None = None
    last_error: str | None = None
    swaps: int = 0
    #: During a rollout: the candidate version, loaded and warmed beside ``current`` (the stable one).
    candidate: ModelSlot | None = None
    #: During a rollout: how live traffic divides between ``current`` and ``candidate``.
    split: Split | None = None
    #: Shadow copies on their way to the candidate now, and copies dropped since the server started.
    shadow_in_flight: int = 0
    shadow_dropped: int = 0
    #: The last split ignored because its stable version is not the one served (the alias moved).
    ignored_split: Split | None = None
    #: The candidate that last failed to load: ``(rollout id, version, when, message)``.
    candidate_failure: tuple[str, int, float, str] | None = None
    #: The version ``ref`` names that last failed to load: ``(version, when, message)``.
    load_failure: tuple[int, float, str] | None = None
    #: The split ``split_source`` last gave that is in force (``_UNREAD`` before the first read): routing
    #: follows the source's changes, so a split set directly with ``set_split`` lasts until the next change.
    followed_split: object = _UNREAD

    @property
    def candidate_arm(self) -> Arm | None:
        """The arm the candidate answers as: ``shadow`` in a shadow split that routes no live traffic to
        it, ``canary`` otherwise; None without a rollout."""
        if self.split is None or self.candidate is None:
            return None
        return "shadow" if self.split.shadow and self.split.candidate_share == 0 else "canary"


class Engine:
    """Every served model of one server process, with hot swapping and rollouts driven by ``refresh``."""

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
        split_source: SplitSource | None = None,
        max_shadow_requests: int = 64,
        on_shadow: ShadowListener | None = None,
    ) -> None:
        self.registry = registry
        self.models: dict[str, ServedModel] = {}
        for reference in references:
            parsed = ModelRef.parse(reference)
            if parsed.model in self.models:
                raise ShipyardError(f"model {parsed.model!r} is listed twice; serve each model once")
            self.models[parsed.model] = ServedModel(
                parsed.model,
                parsed,
                AdaptiveBatcher(
                    _handle,
                    name=parsed.model,
                    max_batch_rows=max_batch_rows,
                    max_queue_rows=max_queue_rows,
                    on_batch=_batch_reporter(parsed.model, on_batch),
                ),
            )
        self.max_batch_rows = max_batch_rows
        self.max_queue_rows = max_queue_rows
        self.request_timeout = request_timeout
        self.trust = trust
        #: Where ``refresh`` reads each alias's rollout (None: this server runs no rollouts by itself).
        self.split_source = split_source
        self.max_shadow_requests = max_shadow_requests
        self.on_shadow = on_shadow
        self._lock = asyncio.Lock()
        self._random = random.Random()
        self._shadows: set[asyncio.Task[ShadowAnswer | None]] = set()

    @property
    def ready(self) -> bool:
        return all(served.current is not None for served in self.models.values())

    def served(self, name: str) -> ServedModel:
        try:
            return self.models[name]
        except KeyError:
            raise not_found("model", name, within="this server", candidates=self.models) from None

    def slot(self, name: str, version: int | None = None) -> ModelSlot:
        """The slot answering for ``name``: the stable one, or the one serving ``version`` (the candidate
        of a rollout too)."""
        served = self.served(name)
        if served.current is None:
            raise NotFound(
                f"model {name!r} is not loaded yet ({served.last_error or 'loading'}); retry shortly"
            )
        if version is None or served.current.version.version == version:
            return served.current
        candidate = served.candidate
        if candidate is not None and candidate.version.version == version:
            return candidate
        raise NotFound(
            f"model {name!r} serves version {served.current.version.version}, not {version}; "
            f"this server follows {served.ref}"
        )

    async def predict(
        self,
        name: str,
        frame: pd.DataFrame,
        *,
        version: int | None = None,
        key_value: str | None = None,
        text_input: bool = False,
        want_proba: bool = True,
        request_id: str | None = None,
        on_route: RouteListener | None = None,
    ) -> PredictionResult:
        """Predict ``frame`` with the served version of ``name``; raises the errors the protocols map (a
        request with more rows than the queue holds is the batcher's 413, refused before any validation).

        During a rollout the request goes to the arm its routing key's value (``key_value``, e.g. a header's;
        for a column key the engine reads the request's first row) or a random draw picks; a request that
        names a ``version`` goes to that version's slot. ``on_route`` hears the version and arm chosen
        before the model runs, so a failure can be counted against them.
        """
        request_id = request_id or new_request_id()
        served = self.served(name)
        for _ in range(3):
            slot, arm = self._route(served, version, key_value, frame)
            if on_route is not None:
                on_route(slot.version.version, arm)
            job = _Job(slot, frame, text_input, want_proba, request_id, arm)
            try:
                result = await served.batcher.submit(
                    job, len(frame), timeout=self.request_timeout, lane=slot.lane
                )
            except BatcherClosed:
                continue  # swapped out between lookup and submit: the new version takes it
            split = served.split
            if split is not None and split.shadow and arm == "stable" and version is None:
                result = replace(result, shadow=self._mirror(served, job))
            return result
        raise Overloaded(f"model {name!r} is being swapped; retry", retry_after=1.0)

    def _route(
        self, served: ServedModel, version: int | None, value: str | None, frame: pd.DataFrame
    ) -> tuple[ModelSlot, Arm]:
        """The slot and arm that answer one request."""
        if version is not None:
            slot = self.slot(served.name, version)
            return slot, "stable" if slot is served.current else "canary"
        split, candidate, current = served.split, served.candidate, served.current
        if current is None:
            return self.slot(served.name), "stable"  # raises: not loaded yet
        if split is None or candidate is None or split.candidate_share == 0:
            return current, "stable"
        if value is None and split.key is not None and split.key.source == "column":
            value = key_value(split.key, None, frame)
        if choose_arm(split, value, self._random.random()) == "canary":
            return candidate, "canary"
        return current, "stable"

    def _mirror(self, served: ServedModel, job: _Job) -> asyncio.Task[ShadowAnswer | None] | None:
        """Send a copy of an answered request to the candidate without waiting for it; past the bound of
        copies in flight the copy is dropped and counted, so shadowing never holds a request back."""
        candidate = served.candidate
        if candidate is None:
            return None
        if served.shadow_in_flight >= self.max_shadow_requests:
            self._shadow_dropped(served, candidate)
            return None
        served.shadow_in_flight += 1
        copy = _Job(candidate, job.frame, job.text_input, True, job.request_id, "shadow")
        task = asyncio.get_running_loop().create_task(self._shadow(served, candidate, copy))
        self._shadows.add(task)
        task.add_done_callback(self._shadows.discard)
        return task

    async def _shadow(self, served: ServedModel, slot: ModelSlot, job: _Job) -> ShadowAnswer | None:
        version, rows = slot.version.version, len(job.frame)
        started = time.perf_counter()
        try:
            result = await served.batcher.submit(
                job, rows, timeout=self.request_timeout, lane=slot.lane, background=True
            )
        except Overloaded:  # the candidate's queue is full, or it left with its split: no answer to log
            self._shadow_dropped(served, slot)
            return None
        except Exception as error:  # the candidate refused or failed the copy: logged as its failure
            self._report_shadow(served.name, version, "failed")
            return ShadowAnswer(version, rows, time.perf_counter() - started, error=error)
        finally:
            served.shadow_in_flight -= 1
        self._report_shadow(served.name, version, "answered")
        return ShadowAnswer(version, rows, time.perf_counter() - started, result=result)

    def _shadow_dropped(self, served: ServedModel, slot: ModelSlot) -> None:
        served.shadow_dropped += 1
        self._report_shadow(served.name, slot.version.version, "dropped")

    def _report_shadow(self, name: str, version: int, outcome: str) -> None:
        if self.on_shadow is not None:
            self.on_shadow(name, version, outcome)

    async def refresh(self) -> None:
        """Load what is not loaded, follow every reference to its current version (hot swap), and follow
        each alias's rollout from ``split_source``."""
        async with self._lock:
            for served in self.models.values():
                await self._follow(served)
                if self.split_source is not None and served.ref.alias is not None:
                    await self._follow_split(served, self.split_source, served.ref.alias)

    async def follow_splits(self) -> None:
        """Follow each alias's rollout from ``split_source`` without resolving references again: cheap
        enough to run several times a second, so an abort reaches this worker well within a second."""
        if self.split_source is None:
            return
        async with self._lock:
            for served in self.models.values():
                if served.ref.alias is not None and served.current is not None:
                    await self._follow_split(served, self.split_source, served.ref.alias)

    async def set_split(self, name: str, split: Split | None) -> None:
        """Route ``name``'s live traffic by ``split`` from now on; None sends everything to stable again.

        The candidate is loaded and warmed first if it is not already; if that fails, routing stays as it
        was and the failure shows in ``last_error`` (and so /health). A split whose stable version is not
        the one served (the alias moved since) is ignored. In-flight requests are never dropped: a candidate
        leaving drains first, and a request that reached it as it closed is routed again.
        """
        served = self.served(name)
        async with self._lock:
            await self._apply_split(served, split)

    async def _follow_split(self, served: ServedModel, source: SplitSource, alias: str) -> None:
        try:
            split = await asyncio.to_thread(source, served.name, alias)
        except Exception as error:  # the database away: routing stays as it is until it answers again
            served.last_error = f"cannot read the rollout of {served.ref} ({error}); routing unchanged"
            log.warning("%s", served.last_error)
            return
        if split == served.followed_split:
            return  # nothing changed at the source: routing stays, whoever set it
        if split is None and served.candidate is not None:
            # The rollout ended. If it was promoted, the warm candidate takes over now: ending the split
            # first would send traffic back to the old version until the next alias refresh.
            await self._follow(served)
        await self._apply_split(served, split)
        if served.split == split:  # applied; a split ignored or a candidate that failed is read again
            served.followed_split = split

    async def _apply_split(self, served: ServedModel, split: Split | None) -> None:
        current = served.current
        if split is not None and (current is None or current.version.version != split.stable):
            if split != served.ignored_split:  # said once per split, not on every refresh
                served.ignored_split = split
                log.warning(
                    "rollout %s routes %s from version %d, but this server serves %s; it is ignored",
                    split.rollout_id,
                    served.name,
                    split.stable,
                    current.version.ref if current else "nothing yet",
                )
            split = None
        if split is None:
            await self._end_split(served)
            return
        if served.candidate is not None and served.candidate.version.version == split.candidate:
            if split != served.split:
                served.split = split  # same candidate, new weights: one assignment, nothing to drain
                log.info("%s: rollout %s routes by %s", served.name, split.rollout_id, split.to_dict())
            return
        candidate = await self._load_candidate(served, split)
        if candidate is None:
            return
        old = served.candidate
        served.candidate, served.split = candidate, split  # the switch, between two requests
        log.info("%s: rollout %s routes by %s", served.name, split.rollout_id, split.to_dict())
        if old is not None:
            await served.batcher.drain_lane(old.lane)

    async def _load_candidate(self, served: ServedModel, split: Split) -> ModelSlot | None:
        """The split's candidate loaded and warmed, or None (kept in ``last_error``) when it fails; a failed
        candidate is tried again only after a while, not on every refresh."""
        failure = served.candidate_failure
        if (
            failure is not None
            and failure[:2] == (str(split.rollout_id), split.candidate)
            and time.monotonic() - failure[2] < _CANDIDATE_RETRY_SECONDS
        ):
            served.last_error = failure[3]
            return None
        try:
            version = await asyncio.to_thread(
                self.registry.resolve, ModelRef(served.name, version=split.candidate)
            )
            return await asyncio.to_thread(self._load, served.name, version)
        except Exception as error:
            message = (
                f"{served.name}/{split.candidate}, the candidate of rollout {split.rollout_id}, failed to "
                f"load or warm: {error}; routing is unchanged"
            )
            served.last_error = message
            served.candidate_failure = (str(split.rollout_id), split.candidate, time.monotonic(), message)
            log.error("%s", served.last_error)
            return None

    async def _end_split(self, served: ServedModel) -> None:
        """Everything to stable again; the candidate finishes what it holds, then is unloaded."""
        old = served.candidate
        if old is None and served.split is None:
            return
        served.split, served.candidate = None, None
        log.info("%s: no rollout; %s answers everything", served.name, served.ref)
        if old is not None:
            await served.batcher.drain_lane(old.lane)

    async def _follow(self, served: ServedModel) -> None:
        try:
            target = await asyncio.to_thread(self.registry.resolve, served.ref)
        except ShipyardError as error:
            served.last_error = str(error)
            log.warning("cannot resolve %s: %s", served.ref, error)
            return
        if served.current is not None and served.current.version.version == target.version:
            served.last_error = None  # resolved and served: an earlier failure (the database away) is over
            served.load_failure = None
            return
        if served.candidate is not None and served.candidate.version.version == target.version:
            slot = served.candidate  # promoted: the warm candidate takes over, nothing to load
        else:
            failure = _recent_failure(served, target.version)
            if failure is not None:  # tried moments ago: say why again, try after the back-off
                served.last_error = failure
                return
            try:
                slot = await asyncio.to_thread(self._load, served.name, target)
            except Exception as error:
                served.last_error = f"{target.ref} failed to load or warm: {error}"
                served.load_failure = (target.version, time.monotonic(), served.last_error)
                current = served.current
                keeps = f"{current.version.ref} keeps serving" if current else "nothing is served"
                log.error("%s; %s (next try in %g s)", served.last_error, keeps, LOAD_RETRY_SECONDS)
                return
        old, leaving = served.current, served.candidate
        # The switch: new requests go to the new version from here on. A rollout from the old version is
        # over (promoted, or the alias moved by hand): its split goes with it.
        served.current, served.candidate, served.split = slot, None, None
        served.last_error, served.load_failure = None, None
        served.swaps += 1
        log.info("%s now serves %s", served.ref, target.ref)
        for draining in (old, leaving):
            if draining is not None and draining is not slot:
                await served.batcher.drain_lane(draining.lane)  # queued requests finish first

    def _load(self, name: str, version: ModelVersion) -> ModelSlot:
        started = time.perf_counter()
        model = self.registry.load_model(version.ref, trust=self.trust)
        contract = Contract.from_dict(version.input_schema) if version.input_schema else None
        slot = ModelSlot(name, version, model, contract)
        self._warm(slot)
        slot.loaded_seconds = time.perf_counter() - started
        return slot

    def _warm(self, slot: ModelSlot) -> None:
        """Run the model on a few realistic rows before it takes traffic (first calls pay one-off costs).

        A version that fails on its own holdout rows is not served; one that fails on rows built from its
        contract (made up, so perhaps not what the model expects) is served with a warning.
        """
        sample, source = sample_rows(self.registry, slot.version)
        if sample is None:
            return
        outcome = slot.handle([_Job(slot, sample, False, True, "warm-up")])[0]
        if isinstance(outcome, ContractViolation):
            log.warning("warm-up rows of %s break its own contract: %s", slot.version.ref, outcome)
        elif isinstance(outcome, BaseException) and source == "contract":
            log.warning("%s failed on rows built from its contract: %s", slot.version.ref, outcome)
        elif isinstance(outcome, BaseException):
            raise outcome

    async def close(self) -> None:
        """Finish every queued request, then the shadow copies still on their way."""
        for served in self.models.values():
            await served.batcher.drain()
        if self._shadows:
            await asyncio.gather(*self._shadows, return_exceptions=True)
