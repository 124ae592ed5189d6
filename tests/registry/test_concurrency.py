"""Several processes writing to one registry at once: numbers never collide, alias moves stay atomic."""

from __future__ import annotations

import itertools
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from shipyard import Registry
from tests.models import tiny_classifier

pytestmark = pytest.mark.slow
PROCESSES = 4


def _register_versions(home: str, url: str, count: int, barrier: Any, results: Any) -> None:
    model = tiny_classifier()
    with Registry(home=home, registry_url=url, busy_timeout=2.0) as registry:
        barrier.wait()
        for _ in range(count):
            results.put(registry.register("fraud", model).version)


def _move_alias(home: str, url: str, worker: int, moves: int, barrier: Any, results: Any) -> None:
    with Registry(home=home, registry_url=url, actor=f"worker-{worker}", busy_timeout=2.0) as registry:
        barrier.wait()
        for step in range(moves):
            change = registry.set_alias("fraud", "production", 1 + (worker + step) % 3)
            results.put(change.action)


def _run(target: Any, args_for: Any) -> list[Any]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    processes = [
        context.Process(target=target, args=(*args_for(i), barrier, results)) for i in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert all(p.exitcode == 0 for p in processes), [p.exitcode for p in processes]
    collected = []
    while not results.empty():
        collected.append(results.get())
    return collected


def test_concurrent_registrations_never_share_a_version_number(workspace: Path, registry_url: str) -> None:
    Registry(home=workspace, registry_url=registry_url).close()  # migrate once up front
    per_process = 5
    numbers = _run(_register_versions, lambda i: (str(workspace), registry_url, per_process))
    assert sorted(numbers) == list(range(1, PROCESSES * per_process + 1))
    with Registry(home=workspace, registry_url=registry_url) as registry:
        assert [v.version for v in registry.list_versions("fraud")] == list(
            range(1, PROCESSES * per_process + 1)
        )


def test_concurrent_alias_moves_form_one_unbroken_history(workspace: Path, registry_url: str) -> None:
    with Registry(home=workspace, registry_url=registry_url) as registry:
        for seed in range(3):
            registry.register("fraud", tiny_classifier(seed))
    moves = 8
    actions = _run(_move_alias, lambda i: (str(workspace), registry_url, i, moves))
    assert len(actions) == PROCESSES * moves
    with Registry(home=workspace, registry_url=registry_url) as registry:
        history = registry.alias_history("fraud", "production")
        assert len(history) == sum(1 for action in actions if action == "set")
        for before, after in itertools.pairwise(history):
            assert after.previous_version == before.version
        assert registry.resolve("fraud@production").version == history[-1].version
        assert len(registry.audit(action="alias.", limit=1000)) == len(history)


def test_concurrent_first_open_migrates_once(tmp_path: Path, registry_url: str) -> None:
    def args(i: int) -> tuple[str, str, int]:
        return (str(tmp_path / f"ws{i}"), registry_url, 1)

    numbers = _run(_register_versions, args)
    assert sorted(numbers) == [1, 2, 3, 4]
