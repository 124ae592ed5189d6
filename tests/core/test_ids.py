"""Request and prediction ids: unique across processes, ordered by time, and telling their own time."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta

from shipyard.ids import made_at, new_request_id, prediction_id


def _ids_in_child(queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    queue.put([new_request_id() for _ in range(1000)])


def test_ids_are_32_hex_digits_and_never_repeat() -> None:
    ids = [new_request_id() for _ in range(50_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(value) == 32 and int(value, 16) >= 0 for value in ids[:100])


def test_ids_made_later_sort_later() -> None:
    ids = [new_request_id() for _ in range(5_000)]
    assert ids == sorted(ids)


def test_an_id_tells_when_it_was_made() -> None:
    before = datetime.now(UTC)
    value = new_request_id()
    found = made_at(value)
    assert found is not None
    assert before - timedelta(milliseconds=2) <= found <= datetime.now(UTC)
    assert made_at(prediction_id(value, 7)) == found


def test_text_that_is_not_an_id_has_no_time() -> None:
    for text in ["", "abc", "x" * 32, "0" * 31, "g" * 32, f"{'0' * 32}-", f"{'0' * 32}-row"]:
        assert made_at(text) is None


def test_forked_workers_draw_their_own_process_part() -> None:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    children = [context.Process(target=_ids_in_child, args=(queue,)) for _ in range(2)]
    for child in children:
        child.start()
    batches = [queue.get(timeout=30) for _ in children]
    for child in children:
        child.join(timeout=30)
    mine = [new_request_id() for _ in range(1000)]
    processes = {batch[0][12:20] for batch in [*batches, mine]}
    assert len(processes) == 3
    everything = [value for batch in [*batches, mine] for value in batch]
    assert len(set(everything)) == len(everything)


def test_an_id_can_be_stamped_with_an_earlier_time() -> None:
    earlier = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert made_at(new_request_id(earlier)) == earlier
    assert new_request_id(earlier) != new_request_id(earlier)
