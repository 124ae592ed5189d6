"""Routing inside the engine during a rollout, in-process: a real registry, real models, no HTTP.

Arms follow the split (weighted, or sticky by a key), weight changes and the end of a rollout never fail a
request, a shadow copy is answered off the request path within its bound, and the split comes from
``split_source`` on every refresh.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import pandas as pd
import pytest

from shipyard import Registry
from shipyard.gates import promote
from shipyard.rollouts.plan import RoutingKey
from shipyard.rollouts.routing import Split
from shipyard.serving.engine import Engine
from shipyard.serving.results import PredictionResult
from shipyard.training import train
from tests.models import transactions
from tests.serving.conftest import fraud_spec

T = TypeVar("T")


def _frame(rows: int = 1, channel: str = "web") -> pd.DataFrame:
    return pd.DataFrame({"amount": [42.0] * rows, "channel": [channel] * rows, "hour": [3] * rows})


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fraud/1 at production, fraud/2 the candidate, fraud/3 a third version for load failures."""
    home = tmp_path_factory.mktemp("rollouts") / "ws"
    with Registry(home=home) as registry:
        registry.datasets.add("tx", transactions(rows=400))
        train(fraud_spec(), registry=registry, progress=False)
        promote(registry, "fraud/1", "production")
        train(fraud_spec(C=0.3), registry=registry, progress=False)
        train(fraud_spec(C=0.1), registry=registry, progress=False)
    return home


def _run(home: Path, scenario: Callable[[Engine], Awaitable[T]], **options: object) -> T:
    async def main() -> T:
        with Registry(home=home) as registry:
            engine = Engine(registry, ["fraud@production"], **options)  # type: ignore[arg-type]
            await engine.refresh()
            try:
                return await scenario(engine)
            finally:
                await engine.close()

    return asyncio.run(main())


def _split(share: float, **more: object) -> Split:
    return Split("ro-1", stable=1, candidate=2, candidate_share=share, **more)  # type: ignore[arg-type]


def _arms(results: list[PredictionResult]) -> Counter[tuple[str, int]]:
    return Counter((result.arm, result.version) for result in results)


def test_a_split_sends_its_share_to_the_candidate_and_each_answer_names_its_arm(home: Path) -> None:
    async def scenario(engine: Engine) -> list[PredictionResult]:
        await engine.set_split("fraud", _split(0.5))
        return [await engine.predict("fraud", _frame()) for _ in range(400)]

    counted = _arms(_run(home, scenario))
    assert set(counted) == {("stable", 1), ("canary", 2)}  # the arm and the version always agree
    assert 150 < counted["canary", 2] < 250


def test_a_routing_key_keeps_each_value_on_one_arm(home: Path) -> None:
    async def scenario(engine: Engine) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
        await engine.set_split("fraud", _split(0.5, key=RoutingKey("header", "X-Customer")))
        by_header: dict[str, set[str]] = {}
        for customer in [f"c{n}" for n in range(40)] * 5:
            result = await engine.predict("fraud", _frame(), key_value=customer)
            by_header.setdefault(customer, set()).add(result.arm)
        await engine.set_split("fraud", _split(0.5, key=RoutingKey("column", "channel")))
        by_column: dict[str, set[str]] = {}
        for channel in [f"ch{n}" for n in range(40)] * 5:
            # The first row's value decides for the whole request.
            frame = pd.concat([_frame(1, channel), _frame(2, "other")], ignore_index=True)
            result = await engine.predict("fraud", frame)
            by_column.setdefault(channel, set()).add(result.arm)
        return by_header, by_column

    for sticky in _run(home, scenario):
        assert all(len(arms) == 1 for arms in sticky.values())
        assert {arm for arms in sticky.values() for arm in arms} == {"stable", "canary"}


def test_share_zero_one_and_no_split_route_all_to_one_arm_and_the_candidate_unloads(home: Path) -> None:
    async def scenario(engine: Engine) -> list[Counter[tuple[str, int]]]:
        seen = []
        for split in (_split(0.0), _split(1.0), None):
            await engine.set_split("fraud", split)
            seen.append(_arms([await engine.predict("fraud", _frame()) for _ in range(30)]))
        served = engine.served("fraud")
        assert served.candidate is None and served.split is None
        return seen

    assert _run(home, scenario) == [
        Counter({("stable", 1): 30}),
        Counter({("canary", 2): 30}),
        Counter({("stable", 1): 30}),
    ]


def test_weight_changes_and_the_end_of_a_rollout_under_traffic_fail_no_request(home: Path) -> None:
    """Eight clients predict without pause while the split goes 5% → 50% → 100% → none, twice."""

    async def scenario(engine: Engine) -> tuple[list[PredictionResult], list[BaseException]]:
        results: list[PredictionResult] = []
        failures: list[BaseException] = []
        stop = asyncio.Event()

        async def client() -> None:
            while not stop.is_set():
                try:
                    results.append(await engine.predict("fraud", _frame(3)))
                except Exception as error:  # what the test counts: any failed request
                    failures.append(error)

        clients = [asyncio.create_task(client()) for _ in range(8)]
        for share in (0.05, 0.5, 1.0, None, 0.05, 0.5, 1.0, None):
            await asyncio.sleep(0.15)
            await engine.set_split("fraud", None if share is None else _split(share))
        await asyncio.sleep(0.15)
        stop.set()
        await asyncio.gather(*clients)
        return results, failures

    results, failures = _run(home, scenario)
    assert failures == []
    counted = _arms(results)
    assert set(counted) == {("stable", 1), ("canary", 2)} and counted["canary", 2] > 20
    assert len(results) > 200


def test_a_candidate_that_fails_to_load_keeps_the_routing_and_says_why(home: Path) -> None:
    with Registry(home=home) as registry:
        stored = Path(registry.artifacts.object_path(registry.resolve("fraud/3").artifact_sha256))
    original = stored.read_bytes()
    stored.write_bytes(original[:-10])

    async def scenario(engine: Engine) -> tuple[str | None, Counter[tuple[str, int]]]:
        await engine.set_split("fraud", _split(0.5))
        broken = Split(7, stable=1, candidate=3, candidate_share=1.0)  # type: ignore[arg-type]  # a store id
        await engine.set_split("fraud", broken)
        served = engine.served("fraud")
        failure = served.candidate_failure
        await engine.set_split("fraud", broken)  # not loaded again at once: the failure is remembered
        assert served.candidate_failure is failure
        counted = _arms([await engine.predict("fraud", _frame()) for _ in range(100)])
        return served.last_error, counted

    try:
        error, counted = _run(home, scenario)
    finally:
        stored.write_bytes(original)
    assert error is not None and "fraud/3, the candidate of rollout 7, failed to load" in error
    assert set(counted) == {("stable", 1), ("canary", 2)}  # the earlier split still routes


def test_a_split_from_another_stable_version_is_ignored(home: Path) -> None:
    async def scenario(engine: Engine) -> Counter[tuple[str, int]]:
        await engine.set_split("fraud", Split("ro-3", stable=3, candidate=2, candidate_share=1.0))
        assert engine.served("fraud").candidate is None
        return _arms([await engine.predict("fraud", _frame()) for _ in range(20)])

    assert _run(home, scenario) == Counter({("stable", 1): 20})


def test_a_shadow_copy_is_answered_by_the_candidate_and_never_returned(home: Path) -> None:
    async def scenario(engine: Engine) -> None:
        await engine.set_split("fraud", _split(0.0, shadow=True))
        result = await engine.predict("fraud", _frame(2), request_id="0" * 32)
        assert (result.arm, result.version) == ("stable", 1) and result.shadow is not None
        answer = await result.shadow
        assert answer is not None and answer.result is not None and answer.error is None
        shadow = answer.result
        assert (shadow.arm, shadow.version, answer.version, answer.rows) == ("shadow", 2, 2, 2)
        assert shadow.request_id == result.request_id
        assert shadow.prediction_ids == [f"{pid}-shadow" for pid in result.prediction_ids]
        assert shadow.probabilities is not None  # scores for the comparison, asked for or not
        unasked = await engine.predict("fraud", _frame(), want_proba=False)
        assert unasked.probabilities is None and unasked.shadow is not None
        copy = await unasked.shadow
        assert copy is not None and copy.result is not None and copy.result.probabilities is not None

    _run(home, scenario)


def test_shadow_copies_past_the_bound_are_dropped_and_counted_never_waited_for(home: Path) -> None:
    async def scenario(engine: Engine) -> tuple[int, int, int]:
        await engine.set_split("fraud", _split(0.0, shadow=True))
        served = engine.served("fraud")
        results = await asyncio.gather(*(engine.predict("fraud", _frame()) for _ in range(50)))
        answers = [await result.shadow for result in results if result.shadow is not None]
        assert all(result.arm == "stable" for result in results)
        assert served.shadow_in_flight == 0
        return served.shadow_dropped, sum(answer is not None for answer in answers), len(results)

    outcomes: list[tuple[str, int, str]] = []
    dropped, answered, answered_stable = _run(
        home,
        scenario,
        max_shadow_requests=2,
        on_shadow=lambda model, version, outcome: outcomes.append((model, version, outcome)),
    )
    assert answered_stable == 50 and dropped > 0 and answered >= 2
    assert Counter(outcome for *_, outcome in outcomes) == {"dropped": dropped, "answered": answered}
    assert {(model, version) for model, version, _ in outcomes} == {("fraud", 2)}


def test_refresh_follows_the_split_source_and_keeps_routing_when_it_fails(home: Path) -> None:
    current: list[Split | Exception | None] = [_split(1.0)]
    asked: list[tuple[str, str]] = []

    def source(model: str, alias: str) -> Split | None:
        asked.append((model, alias))
        answer = current[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def scenario(engine: Engine) -> None:
        assert (await engine.predict("fraud", _frame())).arm == "canary"  # the first refresh read it
        current[0] = ConnectionError("the database is away")
        await engine.refresh()
        served = engine.served("fraud")
        assert served.last_error is not None and "routing unchanged" in served.last_error
        assert (await engine.predict("fraud", _frame())).arm == "canary"
        current[0] = None
        await engine.refresh()
        assert (await engine.predict("fraud", _frame())).arm == "stable" and served.candidate is None
        assert served.last_error is None

    _run(home, scenario, split_source=source)
    assert set(asked) == {("fraud", "production")}


def test_promoting_the_candidate_hands_it_the_traffic_without_loading_it_again(home: Path) -> None:
    async def scenario(engine: Engine) -> None:
        await engine.set_split("fraud", _split(0.5))
        served = engine.served("fraud")
        candidate = served.candidate
        engine.registry.set_alias("fraud", "production", 2, reason="rollout ro-1 promoted")
        try:
            await engine.refresh()
            assert served.current is candidate and served.candidate is None and served.split is None
            assert _arms([await engine.predict("fraud", _frame()) for _ in range(20)]) == {("stable", 2): 20}
        finally:
            engine.registry.set_alias("fraud", "production", 1, reason="back for the other tests")

    _run(home, scenario)


def test_a_shadow_copy_the_candidate_refuses_is_logged_as_its_failure(home: Path) -> None:
    from shipyard.contracts import Problem
    from shipyard.errors import ContractViolation
    from shipyard.serving.recorder import InferenceCall, PredictionRecorder
    from shipyard.serving.results import DecodedRequest, ShadowAnswer
    from tests.serving.test_app import MemorySink

    async def scenario(engine: Engine) -> MemorySink:
        sink = MemorySink()
        recorder = PredictionRecorder(engine, sink)
        call = InferenceCall("fraud", "oip")
        result = await engine.predict("fraud", _frame(), request_id=call.request_id)
        refused = ContractViolation("no", [Problem(0, "hour", "above_max", "99")])
        copy: asyncio.Future[ShadowAnswer | None] = asyncio.get_running_loop().create_future()
        recorder.answered(call, DecodedRequest(_frame()), replace(result, shadow=copy))  # type: ignore[arg-type]
        copy.set_result(ShadowAnswer(version=2, rows=1, seconds=0.01, error=refused))
        await asyncio.sleep(0)  # the callback runs on the loop
        return sink

    sink = _run(home, scenario)
    assert [(r.arm, r.version) for r in sink.records] == [("stable", 1)]
    (failure,) = sink.failures
    assert (failure.arm, failure.version, failure.status, failure.error, failure.protocol) == (
        "shadow",
        2,
        422,
        "rejected",
        "oip",
    )
    assert failure.request_id == sink.records[0].request_id and failure.problems == (
        (0, "hour", "above_max"),
    )
