"""Adaptive batching: no added wait when idle, coalescing under load, shedding and deadlines."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import pytest

from shipyard.errors import DeadlineExceeded, Overloaded
from shipyard.serving.batcher import AdaptiveBatcher, BatchStats


class SlowDoubler:
    """A handler that takes ``delay`` seconds per batch and records the batch sizes it saw."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.batches: list[int] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, items: Sequence[int]) -> list[int | BaseException]:
        self.gate.wait()
        time.sleep(self.delay)
        self.batches.append(len(items))
        return [item * 2 for item in items]


def test_an_idle_batcher_adds_no_wait() -> None:
    async def scenario() -> float:
        batcher = AdaptiveBatcher(SlowDoubler(), name="idle")
        await batcher.submit(1, 1, timeout=5)  # start-up
        started = time.perf_counter()
        for value in range(50):
            assert await batcher.submit(value, 1, timeout=5) == value * 2
        await batcher.drain()
        return (time.perf_counter() - started) / 50

    assert asyncio.run(scenario()) < 0.005


def test_concurrent_requests_coalesce_into_one_predict_call() -> None:
    handler = SlowDoubler(delay=0.05)
    stats: list[BatchStats] = []

    async def scenario() -> list[int]:
        batcher = AdaptiveBatcher(handler, name="busy", on_batch=stats.append)
        results = await asyncio.gather(*(batcher.submit(value, 1, timeout=5) for value in range(40)))
        await batcher.drain()
        return list(results)

    assert asyncio.run(scenario()) == [value * 2 for value in range(40)]
    assert len(handler.batches) < 40 and max(handler.batches) > 1
    assert sum(s.rows for s in stats) == 40


def test_batches_respect_the_row_limit() -> None:
    handler = SlowDoubler(delay=0.02)

    async def scenario() -> None:
        batcher = AdaptiveBatcher(handler, name="limit", max_batch_rows=10)
        await asyncio.gather(*(batcher.submit(value, 4, timeout=5) for value in range(12)))
        await batcher.drain()

    asyncio.run(scenario())
    assert max(handler.batches) * 4 <= 10 or max(handler.batches) == 1


def test_a_full_queue_sheds_with_a_retry_after() -> None:
    handler = SlowDoubler()
    handler.gate.clear()  # the model is stuck: the queue can only grow

    async def scenario() -> Overloaded:
        batcher = AdaptiveBatcher(handler, name="shed", max_batch_rows=1, max_queue_rows=5)
        waiting = [asyncio.ensure_future(batcher.submit(value, 1, timeout=5)) for value in range(5)]
        await asyncio.sleep(0.05)
        try:
            await batcher.submit(99, 3, timeout=5)
        except Overloaded as refused:
            handler.gate.set()
            await asyncio.gather(*waiting)
            await batcher.drain()
            return refused
        raise AssertionError("the request was not shed")

    refused = asyncio.run(scenario())
    assert refused.retry_after >= 1.0 and "overloaded" in str(refused)


def test_a_request_past_its_deadline_is_not_run() -> None:
    handler = SlowDoubler(delay=0.2)

    async def scenario() -> None:
        batcher = AdaptiveBatcher(handler, name="late")
        first = asyncio.ensure_future(batcher.submit(1, 1, timeout=5))
        await asyncio.sleep(0.01)
        with pytest.raises(DeadlineExceeded, match="past its deadline"):
            await batcher.submit(2, 1, timeout=0.05)
        assert await first == 2
        await batcher.drain()

    asyncio.run(scenario())
    assert handler.batches == [1]


def test_a_handler_error_reaches_every_request_of_its_batch_and_no_other() -> None:
    def flaky(items: Sequence[int]) -> list[int | BaseException]:
        return [ValueError("bad row") if item == 3 else item for item in items]

    async def scenario() -> list[object]:
        batcher = AdaptiveBatcher(flaky, name="flaky")
        outcomes = await asyncio.gather(
            *(batcher.submit(v, 1, timeout=5) for v in range(5)), return_exceptions=True
        )
        await batcher.drain()
        return list(outcomes)

    outcomes = asyncio.run(scenario())
    assert [isinstance(o, ValueError) for o in outcomes] == [False, False, False, True, False]


def test_draining_finishes_queued_work_before_stopping() -> None:
    handler = SlowDoubler(delay=0.02)

    async def scenario() -> list[int]:
        batcher = AdaptiveBatcher(handler, name="drain")
        pending = [asyncio.ensure_future(batcher.submit(value, 1, timeout=5)) for value in range(20)]
        await asyncio.sleep(0)
        await batcher.drain()
        return [await future for future in pending]

    assert asyncio.run(scenario()) == [value * 2 for value in range(20)]
