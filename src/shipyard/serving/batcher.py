"""Adaptive batching: concurrent requests for one model version coalesce into one predict call.

There is no timer. The batcher computes as soon as it has work; while a batch runs (in a worker thread, off
the event loop), new requests queue up, and the next batch takes all of them, up to ``max_batch_rows``. So
an idle server adds no wait at all, and under load the batch size grows by itself with the arrival rate —
the batch is exactly as large as the backlog. The queue is bounded in rows: past ``max_queue_rows`` a
request is shed at once (503 + Retry-After) instead of waiting for a timeout; a request that alone has more
rows than the queue holds could never fit and is refused at once (413), not run; a request whose deadline
has passed before its batch starts is answered 504 without running the model.

One batcher serves every version of a model: each request names its ``lane`` (the version's slot) and the
handler is called once per lane in a batch, all on the one worker thread. So a canary's two versions share
one queue and one batch cycle instead of two threads contending for the GIL, and each version's group is as
large as its share of the backlog. A ``background`` request (a shadow copy) is computed after the batch's
other requests have their answers, never holds their queue room, and is shed first when the queue is full.
A lane is drained on its own (``drain_lane``) when its version leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from shipyard.errors import DeadlineExceeded, Overloaded, too_many_rows

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


class BatcherClosed(Overloaded):
    """This batcher's version was swapped out; the engine resubmits to the version that replaced it."""


@dataclass
class _Pending(Generic[Item, Outcome]):
    item: Item
    rows: int
    deadline: float
    future: asyncio.Future[Outcome]
    lane: Hashable
    background: bool
    queued_at: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True)
class BatchStats:
    """What one handler call (one lane's share of a batch) looked like, for metrics."""

    requests: int
    rows: int
    queue_seconds: list[float]
    compute_seconds: float
    lane: Hashable = None


@dataclass
class _Lane:
    """A lane's requests still in the batcher (queued or computing), and whether it takes new ones."""

    held: int = 0
    closed: bool = False
    empty: asyncio.Event = field(default_factory=asyncio.Event)


class AdaptiveBatcher(Generic[Item, Outcome]):
    """Coalesces ``submit`` calls into calls of ``handler(items) -> outcomes``, one call per lane of a
    batch, on one worker thread."""

    def __init__(
        self,
        handler: Callable[[Sequence[Item]], Sequence[Outcome | BaseException]],
        *,
        name: str,
        max_batch_rows: int = 512,
        max_queue_rows: int = 20_000,
        on_batch: Callable[[BatchStats], None] | None = None,
    ) -> None:
        self._handler = handler
        self._max_batch_rows = max_batch_rows
        self._max_queue_rows = max_queue_rows
        self._on_batch = on_batch
        self._queue: deque[_Pending[Item, Outcome]] = deque()
        self._queued_rows = 0  # rows of requests waiting for an answer (background copies apart)
        self._background_rows = 0
        self._lanes: dict[Hashable, _Lane] = {}
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"predict-{name}")
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._recent_compute = 0.001

    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def submit(
        self, item: Item, rows: int, *, timeout: float, lane: Hashable = None, background: bool = False
    ) -> Outcome:
        """Queue ``item`` (``rows`` rows) in ``lane`` and wait for its outcome.

        Raises PayloadTooLarge (more rows than the queue holds), Overloaded (the queue is full now; for a
        ``background`` item, also when answered requests fill it), BatcherClosed (the lane or the batcher
        is draining) or DeadlineExceeded (the item waited past ``timeout``).
        """
        if rows > self._max_queue_rows:
            raise too_many_rows(rows, self._max_queue_rows)
        state = self._lanes.get(lane)
        if self._closed or (state is not None and state.closed):
            raise BatcherClosed("this model version is shutting down; retry", retry_after=1.0)
        held = self._queued_rows + (self._background_rows if background else 0)
        if held and held + rows > self._max_queue_rows:
            # Time to drain the backlog, from how long recent batches took: an honest Retry-After.
            backlog = held / max(1, self._max_batch_rows) * self._recent_compute
            raise Overloaded(
                f"the server is overloaded ({held} rows queued); retry later",
                retry_after=max(1.0, round(backlog, 1)),
            )
        loop = asyncio.get_running_loop()
        pending: _Pending[Item, Outcome] = _Pending(
            item, rows, time.perf_counter() + timeout, loop.create_future(), lane, background
        )
        self._queue.append(pending)
        self._count(pending, +1)
        self._wake.set()
        self.start()
        return await pending.future

    async def drain_lane(self, lane: Hashable, timeout: float = 30.0) -> None:
        """Stop taking requests for ``lane`` and wait until the ones it holds are answered."""
        state = self._lanes.setdefault(lane, _Lane())
        state.closed = True
        if state.held:
            with contextlib.suppress(TimeoutError):  # past it, the batcher's own drain still finishes them
                await asyncio.wait_for(state.empty.wait(), timeout)

    async def drain(self, timeout: float = 30.0) -> None:
        """Stop taking requests, finish what is queued or running, then free the worker thread."""
        self._closed = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                self._task.cancel()
        self._executor.shutdown(wait=False)

    def _count(self, pending: _Pending[Item, Outcome], step: int) -> None:
        """Track a request entering (+1) or leaving (-1) the batcher, in its lane and the queue's rows."""
        if pending.background:
            self._background_rows += step * pending.rows
        else:
            self._queued_rows += step * pending.rows
        state = self._lanes.setdefault(pending.lane, _Lane())
        state.held += step
        if state.held == 0:
            state.empty.set()
            if not state.closed:
                del self._lanes[pending.lane]
        else:
            state.empty.clear()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._closed and not self._queue:
                return  # drained: nothing queued, nothing running
            while self._queue:
                batch = self._take()
                foreground = [pending for pending in batch if not pending.background]
                for part in (foreground, [pending for pending in batch if pending.background]):
                    if part:
                        await self._dispatch(part)
                if self._closed and not self._queue:
                    self._wake.set()  # let the loop notice it is drained

    async def _dispatch(self, part: list[_Pending[Item, Outcome]]) -> None:
        """Run the handler once per lane of ``part`` on the worker thread, then answer every request."""
        groups: dict[Hashable, list[_Pending[Item, Outcome]]] = {}
        for pending in part:
            groups.setdefault(pending.lane, []).append(pending)
        started = time.perf_counter()
        answered = await asyncio.get_running_loop().run_in_executor(
            self._executor, self._compute, [[p.item for p in group] for group in groups.values()]
        )
        self._recent_compute = 0.8 * self._recent_compute + 0.2 * (time.perf_counter() - started)
        for group, (outcomes, seconds) in zip(groups.values(), answered, strict=True):
            for pending, outcome in zip(group, outcomes, strict=True):
                self._count(pending, -1)
                if pending.future.done():
                    continue
                if isinstance(outcome, BaseException):
                    pending.future.set_exception(outcome)
                else:
                    pending.future.set_result(outcome)
            if self._on_batch is not None:
                queued = [started - p.queued_at for p in group]
                self._on_batch(
                    BatchStats(len(group), sum(p.rows for p in group), queued, seconds, group[0].lane)
                )

    def _compute(self, groups: list[list[Item]]) -> list[tuple[Sequence[Outcome | BaseException], float]]:
        """Each group's outcomes and compute time; a handler that fails fails its own group only."""
        answered: list[tuple[Sequence[Outcome | BaseException], float]] = []
        for items in groups:
            started = time.perf_counter()
            try:
                outcomes: Sequence[Outcome | BaseException] = self._handler(items)
            except BaseException as error:  # the handler itself failed: each of its requests gets the error
                outcomes = [error] * len(items)
            answered.append((outcomes, time.perf_counter() - started))
        return answered

    def _take(self) -> list[_Pending[Item, Outcome]]:
        """The next batch: queued requests in order, up to the row limit (always at least one)."""
        batch: list[_Pending[Item, Outcome]] = []
        rows = 0
        now = time.perf_counter()
        while self._queue:
            pending = self._queue[0]
            if batch and rows + pending.rows > self._max_batch_rows:
                break
            self._queue.popleft()
            if pending.future.done():  # the client went away
                self._count(pending, -1)
                continue
            if pending.deadline < now:
                self._count(pending, -1)
                pending.future.set_exception(
                    DeadlineExceeded(f"the request waited {now - pending.queued_at:.3f} s, past its deadline")
                )
                continue
            batch.append(pending)
            rows += pending.rows
        return batch
