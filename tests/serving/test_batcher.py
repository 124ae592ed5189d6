"""Adaptive batching: no added wait when idle, coalescing under load, shedding and deadlines."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import pytest

from shipyard.errors import DeadlineExceeded, Overloaded
from shipyard.serving.batcher import AdaptiveBatcher, BatcherClosed, BatchStats


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


class LaneRecorder:
    """A handler that records each call's items (one lane per call) and when it ran."""

    def __init__(self) -> None:
        self.calls: list[list[tuple[str, int]]] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, items: Sequence[tuple[str, int]]) -> list[int | BaseException]:
        self.gate.wait()
        self.calls.append(list(items))
        return [value * 2 for _, value in items]


def test_each_lane_of_a_batch_gets_one_handler_call_on_the_one_thread() -> None:
    handler = LaneRecorder()
    stats: list[BatchStats] = []

    async def scenario() -> list[int]:
        batcher = AdaptiveBatcher(handler, name="lanes", on_batch=stats.append)
        handler.gate.clear()
        first = asyncio.ensure_future(batcher.submit(("a", 0), 1, timeout=5, lane="a"))
        await asyncio.sleep(0.05)  # the first batch is running: the rest queue up behind it
        rest = [
            asyncio.ensure_future(batcher.submit((lane, value), 1, timeout=5, lane=lane))
            for value, lane in enumerate("abab", start=1)
        ]
        await asyncio.sleep(0.01)
        handler.gate.set()
        results = [await first] + [await future for future in rest]
        await batcher.drain()
        return results

    assert asyncio.run(scenario()) == [0, 2, 4, 6, 8]
    assert handler.calls == [[("a", 0)], [("a", 1), ("a", 3)], [("b", 2), ("b", 4)]]
    assert [(s.lane, s.requests) for s in stats] == [("a", 1), ("a", 2), ("b", 2)]


def test_background_copies_run_after_the_live_requests_of_their_batch_are_answered() -> None:
    handler = LaneRecorder()
    answered: list[str] = []

    async def scenario() -> None:
        batcher = AdaptiveBatcher(handler, name="shadow")
        handler.gate.clear()
        blocker = asyncio.ensure_future(batcher.submit(("live", 0), 1, timeout=5, lane="stable"))
        await asyncio.sleep(0.05)

        async def tracked(name: str, lane: str, background: bool) -> None:
            await batcher.submit((name, 1), 1, timeout=5, lane=lane, background=background)
            answered.append(name)

        copy = asyncio.ensure_future(tracked("copy", "candidate", True))  # queued first
        live = asyncio.ensure_future(tracked("live", "stable", False))
        await asyncio.sleep(0.01)
        handler.gate.set()
        await asyncio.gather(blocker, copy, live)
        await batcher.drain()

    asyncio.run(scenario())
    assert answered == ["live", "copy"]
    assert [call[0][0] for call in handler.calls] == ["live", "live", "copy"]


def test_a_full_queue_drops_background_copies_but_still_takes_live_requests() -> None:
    handler = LaneRecorder()
    handler.gate.clear()

    async def scenario() -> None:
        batcher = AdaptiveBatcher(handler, name="room", max_batch_rows=1, max_queue_rows=4)
        held = [
            asyncio.ensure_future(batcher.submit(("live", v), 1, timeout=5, lane="stable")) for v in range(3)
        ]
        await asyncio.sleep(0.05)
        with pytest.raises(Overloaded):  # 3 live rows queued or running + 2 copy rows > 4
            await batcher.submit(("copy", 0), 2, timeout=5, lane="candidate", background=True)
        copy = asyncio.ensure_future(
            batcher.submit(("copy", 1), 1, timeout=5, lane="candidate", background=True)
        )
        await asyncio.sleep(0.01)
        live = asyncio.ensure_future(batcher.submit(("live", 9), 1, timeout=5, lane="stable"))
        await asyncio.sleep(0.01)  # the copy's row does not count against live requests: it was queued
        handler.gate.set()
        await asyncio.gather(*held, copy, live)
        await batcher.drain()

    asyncio.run(scenario())


def test_draining_a_lane_finishes_its_requests_refuses_new_ones_and_leaves_other_lanes_serving() -> None:
    handler = LaneRecorder()

    async def scenario() -> tuple[list[int], int]:
        batcher = AdaptiveBatcher(handler, name="swap")
        handler.gate.clear()
        old = [
            asyncio.ensure_future(batcher.submit(("old", value), 1, timeout=5, lane="v1"))
            for value in range(3)
        ]
        await asyncio.sleep(0.05)
        draining = asyncio.ensure_future(batcher.drain_lane("v1"))
        await asyncio.sleep(0.01)
        assert not draining.done()  # v1 still holds requests
        with pytest.raises(BatcherClosed):
            await batcher.submit(("old", 9), 1, timeout=5, lane="v1")
        handler.gate.set()
        await draining
        answers = [await future for future in old]
        new = await batcher.submit(("new", 5), 1, timeout=5, lane="v2")
        await batcher.drain()
        return answers, new

    assert asyncio.run(scenario()) == ([0, 2, 4], 10)
