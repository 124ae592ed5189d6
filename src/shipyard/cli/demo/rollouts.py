"""The demo's rollouts chapter: candidates reach production gradually, judged by their live traffic.

Everything here is the real machinery: ``rollouts.start`` records each rollout, an ``Engine`` built as
``shipyard serve`` builds it follows the alias and the split from the database (``refresh``), every request is
answered by the arm the split chose and logged with that arm by the server's ``PredictionRecorder``, and
``rollouts.advance`` judges each step from the prediction log. Only time is compressed: a step's traffic
is sent in a second or two, then the controller is asked to judge the step as of one ``interval`` (10
minutes) after the step began, so the logged requests fall in the window it reads.

Three candidates: production's pipeline behind a currency lookup that fails on large amounts (aborted at
its first analysis by ``error_rate``), the same pipeline with the lookup taken out (walks 5 → 25 → 50 →
100% and is promoted), and a refit with more boosting iterations run in the shadow of production (ends
``passed`` with its agreement and score difference).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from shipyard import rollouts
from shipyard.cli import render
from shipyard.cli.demo.alerting import incident_webhook, point_channel_at
from shipyard.cli.demo.traffic import FEATURES, SEED, make_transactions
from shipyard.errors import ShipyardError
from shipyard.ids import prediction_id
from shipyard.monitoring import attach_labels
from shipyard.predictions import LogWriter, PredictionLog
from shipyard.registry import ModelVersion, Registry
from shipyard.rollouts.controller import Transition, step_clock
from shipyard.rollouts.service import Rollout, get
from shipyard.serving.engine import Engine
from shipyard.serving.recorder import InferenceCall, PredictionRecorder
from shipyard.serving.results import DecodedRequest

#: Rows per request, and how many requests a step gets at each share (enough for min_requests on both arms).
ROWS_PER_REQUEST = 5
REQUESTS_AT = {0.0: 160, 0.05: 3000, 0.25: 560, 0.5: 320, 1.0: 160}
CONCURRENCY = 16
#: Sticky routing: a customer meets one arm for the whole rollout (and the demo's outcome is the same on
#: every run).
KEY = "header:X-Customer-Id"
# The plans leave latency_p99 out: a p99 of a few milliseconds over 150 requests in a second, on a machine
# shared with whatever else runs, is noise that tells nothing about the candidate (the alerting chapter
# judges a real latency problem).
#: Amounts above this make the faulty candidate raise (a unit bug: cents read as euros overflow a table).
FAULTY_ABOVE = 300.0


class LookupFraud:
    """Production's pipeline behind a currency lookup. With ``overflow_above`` the lookup has a unit bug:
    a request holding any amount above it raises (about 7% of five-row requests at 300)."""

    def __init__(self, pipeline: Any, overflow_above: float | None = None) -> None:
        self.pipeline = pipeline
        self.overflow_above = overflow_above

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        if self.overflow_above is not None and (data["amount"] > self.overflow_above).any():
            raise OverflowError(f"amount above {self.overflow_above:g} overflows the currency table")
        return np.asarray(self.pipeline.predict(data))


def rollouts_story(registry: Registry, step: Callable[..., None]) -> dict[str, Rollout]:
    """Steps 14 to 17: a faulty canary aborted, its fix promoted, a refit passed in the shadow, and the
    history; ``step`` prints a step's numbered heading. Returns the three rollouts as they ended."""
    with incident_webhook() as url:  # the alerting chapter's receiver is gone: point the channel at a new one
        point_channel_at(registry, url)
        engine_log = logging.getLogger("shipyard.serving")
        level = engine_log.level
        engine_log.setLevel(logging.CRITICAL)  # the faulty candidate's tracebacks: the analysis tells it
        try:
            ended = asyncio.run(_story(registry, step))
        finally:
            engine_log.setLevel(level)
    step(17, "the rollouts, as 'shipyard rollout history fraud' lists them:")
    _history(registry)
    return ended


async def _story(registry: Registry, step: Callable[..., None]) -> dict[str, Rollout]:
    async with serving(registry) as server:
        pipeline = registry.load_model("fraud@production").native
        faulty = registry.register(
            "fraud", LookupFraud(pipeline, FAULTY_ABOVE), description="a currency lookup with a unit bug"
        )
        step(
            14,
            "a canary of {} (a currency lookup that fails on amounts above {}) gets 5% of live traffic; "
            "an engine built as 'shipyard serve' builds it follows the split from the database (the "
            "default checks but latency_p99: the demo's millisecond latencies are this machine's noise):",
            faulty.ref,
            f"{FAULTY_ABOVE:g}",
        )
        aborted = await server.roll(faulty, {}, "demo: the currency lookup")
        fixed = registry.register(
            "fraud",
            pipeline,
            description="production's pipeline, the currency lookup taken out",
            reference=make_transactions()[FEATURES],
        )
        step(15, "a canary of {} (the lookup taken out) walks 5 → 25 → 50 → 100%:", fixed.ref)
        promoted = await server.roll(fixed, {}, "demo: the lookup taken out")
        move = registry.alias_history("fraud", "production")[-1]
        render.message("fraud@production → v{}, alias history: {}", move.version, move.reason)
        refit = _refit(registry, pipeline, max_iter=170)
        step(16, "{} (170 boosting iterations instead of 150) runs in the shadow of production:", refit.ref)
        passed = await server.roll(refit, {"strategy": "shadow"}, "demo: does the refit agree?")
    return {"aborted": aborted, "promoted": promoted, "passed": passed}


@contextlib.asynccontextmanager
async def serving(
    registry: Registry, rows: pd.DataFrame | None = None, requests_at: dict[float, int] | None = None
) -> AsyncIterator[_Server]:
    """One server worker (its engine and recorder) answering ``rows`` (by default calm transactions with
    no labels), ``requests_at[share]`` requests per step; closed, its log flushed, on the way out."""
    writer = LogWriter(registry.settings.log_url, flush_seconds=3600)
    engine = Engine(  # as 'shipyard serve' builds each worker's engine
        registry,
        ["fraud@production"],
        trust=True,  # the lookup candidates are Python objects this demo registered just now
        split_source=functools.partial(rollouts.active_split, registry),
    )
    server = _Server(
        engine,
        PredictionRecorder(engine, writer),
        writer,
        registry,
        make_transactions(20_000, seed=SEED + 400)[FEATURES] if rows is None else rows,
        requests_at or REQUESTS_AT,
    )
    await engine.refresh()
    try:
        yield server
    finally:
        await engine.close()
        writer.close()


class _Server:
    """One server worker's engine and recorder, sending a step's traffic through them, and the controller
    judging each step as of one interval after it began."""

    def __init__(
        self,
        engine: Engine,
        recorder: PredictionRecorder,
        writer: LogWriter,
        registry: Registry,
        rows: pd.DataFrame,
        requests_at: dict[float, int],
    ) -> None:
        self.engine, self.recorder, self.writer, self.registry = engine, recorder, writer, registry
        self.log = PredictionLog(registry.settings.log_url)
        self.rows, self.requests_at, self.offset = rows, requests_at, 0
        #: ``(prediction id, label)`` of the answered rows, when ``rows`` holds the truth (a ``fraud``
        #: column): the labels that come back late, attached before the controller judges a step.
        self.truth: list[tuple[str, int]] = []

    async def roll(self, candidate: ModelVersion, plan: dict[str, Any], reason: str) -> Rollout:
        """Start a rollout of ``candidate`` (10-minute steps) and serve it until the controller ends it."""
        keys = {
            "model": "fraud",
            "to": candidate.version,
            "interval": "10m",
            "routing_key": KEY,
            "checks": {"latency_p99": {"enabled": False}},
            **plan,
        }
        return await self.follow(rollouts.start(self.registry, keys, reason=reason, trust=True))

    async def follow(self, current: Rollout) -> Rollout:
        """Serve each step of ``current`` until the controller ends it; the rollout as it ended."""
        now = current.started_at
        while current.active:
            await self.engine.refresh()  # what every worker does: follow the alias and the rollout's split
            self.warm()
            arms = await self.serve(self.requests_at[current.candidate_share])
            self.writer.flush()  # what a worker's writer does every few seconds
            if self.truth:  # the step's labels come back before it is judged
                attach_labels(self.registry, self.log, self.truth, source="demo", settle_seconds=0)
                self.truth.clear()
            # The controller's clock: one interval after the step began, or after its last analysis.
            now = max(step_clock(current).running_since, now) + timedelta(seconds=current.plan.interval)
            for moved in rollouts.advance(self.registry, self.log, now=now):
                if moved.rollout_id == current.id:
                    _show(moved, arms, current)
            current = get(self.registry, current.id)
        await self.engine.refresh()
        return current

    def warm(self) -> None:
        """Run the candidate once on a few rows, off the log: the engine warms a version on its training
        hold-out rows, which a version registered without training (as these are) does not have."""
        candidate = self.engine.served("fraud").candidate
        if candidate is None:
            return
        rows = self.rows.head(ROWS_PER_REQUEST)
        if candidate.model.has_proba:
            candidate.model.predict_with_proba(rows)
        else:
            candidate.model.predict(rows)

    async def serve(self, requests: int) -> Counter[str]:
        """``requests`` requests, sixteen at a time, each answered by the arm the engine's split chose and
        logged with it by the server's recorder; the arms counted."""
        arms: Counter[str] = Counter()
        for first in range(0, requests, CONCURRENCY):
            answers = await asyncio.gather(
                *(self.request() for _ in range(min(CONCURRENCY, requests - first)))
            )
            arms.update(arm for answer in answers for arm in answer)
        return arms

    async def request(self) -> list[str]:
        if self.offset + ROWS_PER_REQUEST > len(self.rows):
            self.offset = 0
        rows = self.rows.iloc[self.offset : self.offset + ROWS_PER_REQUEST].reset_index(drop=True)
        frame = rows[FEATURES]
        customer = f"customer-{self.offset // ROWS_PER_REQUEST}"  # its X-Customer-Id header
        self.offset += ROWS_PER_REQUEST
        call = InferenceCall(model="fraud", protocol="native", rows=len(frame))
        try:
            result = await self.engine.predict(
                "fraud", frame, key_value=customer, request_id=call.request_id, on_route=call.routed
            )
        except ShipyardError as error:
            self.recorder.failed(call, error, error.http_status)
            return [f"{call.arm} failed"]
        self.recorder.answered(call, DecodedRequest(frame), result)
        if "fraud" in rows.columns:
            self.truth += [
                (prediction_id(call.request_id, row), int(label)) for row, label in enumerate(rows["fraud"])
            ]
        if result.shadow is None:
            return [result.arm]
        await asyncio.wait([result.shadow])  # the copy is logged when it is answered
        return [result.arm, "shadow"]


def _refit(registry: Registry, pipeline: Any, **params: Any) -> ModelVersion:
    """Production's pipeline with ``params`` set on its estimator, refitted on the training set; registered
    with a reference sample (its contract and profile)."""
    data = make_transactions()
    model = clone(pipeline)
    model.set_params(**{f"{model.steps[-1][0]}__{key}": value for key, value in params.items()})
    model.fit(data[FEATURES], data["fraud"])
    described = ", ".join(f"{key}={value}" for key, value in params.items())
    return registry.register(
        "fraud",
        model,
        description=f"production's pipeline refitted with {described}",
        reference=data[FEATURES],
    )


#: The checks whose figures each outcome prints (a failed check is always printed).
_SHOWN = {
    "step": ("error_rate", "accuracy"),
    "promote": ("error_rate", "accuracy"),
    "pass": ("agreement", "score_difference"),
}


def _show(transition: Transition, arms: Counter[str], rollout: Rollout) -> None:
    """One step as the controller judged it: the traffic each arm answered, and what followed."""
    share = "0%, every request mirrored" if rollout.strategy == "shadow" else f"{rollout.candidate_share:.0%}"
    render.message(
        "  step {} ({}): {} → [bold]{}[/]: {}",
        rollout.step_index + 1,
        share,
        ", ".join(f"{count} {arm}" for arm, count in sorted(arms.items())),
        transition.action,
        transition.reason,
    )
    for result in (transition.analysis or {}).get("results", []):
        if result["passed"] is False or result["name"] in _SHOWN.get(transition.action, ()):
            render.message("    {}: {}", result["name"], result["detail"])


def _history(registry: Registry) -> None:
    render.table(
        None,
        ["id", "alias", "strategy", "from", "to", "state", "steps taken", "analyses", "reason"],
        [
            (
                r.id,
                f"{r.model}@{r.alias}",
                r.strategy,
                r.stable,
                r.candidate,
                r.state,
                " → ".join(f"{s.candidate_share:.0%}" for s in r.steps),
                ", ".join(str(a.get("verdict")) for s in r.steps for a in s.analyses) or "-",
                r.reason,
            )
            for r in rollouts.history(registry, "fraud")
        ],
    )
