"""Adaptive batching: concurrent requests for one model version coalesce into one predict call.

There is no timer. The batcher computes as soon as it has work; while a batch runs (in a worker thread, off
the event loop), new requests queue up, and the next batch takes all of them, up to ``max_batch_rows``. So
an idle server adds no wait at all, and under load the batch size grows by itself with the arrival rate —
the batch is exactly as large as the backlog. The queue is bounded in rows: past ``max_queue_rows`` a
request is shed at once (503 + Retry-After) instead of waiting for a timeout; a request that alone has more
rows than the queue holds could never fit and is refused at once (413), not run; a request whose deadline
has passed before its batch starts is answered 504 without running the model.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
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
    queued_at: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True)
class BatchStats:
    """What one dispatched batch looked like (for metrics)."""

    requests: int
    rows: int
    queue_seconds: list[float]
    compute_seconds: float


class AdaptiveBatcher(Generic[Item, Outcome]):
    """Coalesces ``submit`` calls into calls of ``handler(items) -> outcomes`` on one worker thread."""

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
        self._queued_rows = 0
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

    async def submit(self, item: Item, rows: int, *, timeout: float) -> Outcome:
        """Queue ``item`` (``rows`` rows) and wait for its outcome.

        Raises PayloadTooLarge (more rows than the queue holds), Overloaded (the queue is full now) or
        DeadlineExceeded (the item waited past ``timeout``).
        """
        if rows > self._max_queue_rows:
            raise too_many_rows(rows, self._max_queue_rows)
        if self._closed:
            raise BatcherClosed("this model version is shutting down; retry", retry_after=1.0)
        if self._queued_rows and self._queued_rows + rows > self._max_queue_rows:
            # Time to drain the backlog, from how long recent batches took: an honest Retry-After.
            backlog = self._queued_rows / max(1, self._max_batch_rows) * self._recent_compute
            raise Overloaded(
                f"the server is overloaded ({self._queued_rows} rows queued); retry later",
                retry_after=max(1.0, round(backlog, 1)),
            )
        loop = asyncio.get_running_loop()
        pending: _Pending[Item, Outcome] = _Pending(
            item, rows, time.perf_counter() + timeout, loop.create_future()
        )
        self._queue.append(pending)
        self._queued_rows += rows
        self._wake.set()
        self.start()
        return await pending.future

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

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._closed and not self._queue:
                return  # drained: nothing queued, nothing running
            while self._queue:
                batch = self._take()
                if not batch:
                    continue
                started = time.perf_counter()
                try:
                    outcomes = await loop.run_in_executor(
                        self._executor, self._handler, [p.item for p in batch]
                    )
                except (
                    BaseException
                ) as error:  # the handler itself failed: every request in it gets the error
                    outcomes = [error] * len(batch)
                finished = time.perf_counter()
                self._recent_compute = 0.8 * self._recent_compute + 0.2 * (finished - started)
                for pending, outcome in zip(batch, outcomes, strict=True):
                    if pending.future.done():
                        continue
                    if isinstance(outcome, BaseException):
                        pending.future.set_exception(outcome)
                    else:
                        pending.future.set_result(outcome)
                if self._closed and not self._queue:
                    self._wake.set()  # let the loop notice it is drained
                if self._on_batch is not None:
                    self._on_batch(
                        BatchStats(
                            len(batch),
                            sum(p.rows for p in batch),
                            [started - p.queued_at for p in batch],
                            finished - started,
                        )
                    )

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
            self._queued_rows -= pending.rows
            if pending.future.done():  # the client went away
                continue
            if pending.deadline < now:
                pending.future.set_exception(
                    DeadlineExceeded(f"the request waited {now - pending.queued_at:.3f} s, past its deadline")
                )
                continue
            batch.append(pending)
            rows += pending.rows
        return batch
