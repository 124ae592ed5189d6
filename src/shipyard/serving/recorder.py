"""What a served request leaves behind in the prediction log, recorded beside the engine.

Every protocol's request becomes one ``InferenceCall``: the model it named, the protocol, when it started,
how many rows it carried and which version answered. When the engine answers, ``PredictionRecorder.answered``
hands the validated rows, predictions and latency to the sink; when anything refuses the request (a body too
large, a contract problem, a full queue, a model that raised), ``failed`` hands over the status, the kind of
failure and the contract problems (never the values). The sink returns at once; a background writer does
the I/O, so recording never adds latency to the request.

Each record names the arm of a rollout that answered (``stable`` when none runs). A shadow copy's answer is
recorded when it arrives, after the response went out: its rows with the arm ``shadow`` (ids ending in
``-shadow``, request id the mirrored request's), or its failure with that arm.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shipyard.errors import (
    ContractViolation,
    DeadlineExceeded,
    InvalidInput,
    ModelFailed,
    Overloaded,
    PayloadTooLarge,
    ShipyardError,
    UnsupportedMediaType,
)
from shipyard.ids import new_request_id
from shipyard.predictions.events import contract_problems
from shipyard.serving.engine import Engine
from shipyard.serving.prediction_log import FailedRequest, NullSink, PredictionRecord, PredictionSink
from shipyard.serving.results import Arm, DecodedRequest, PredictionResult, ShadowAnswer

log = logging.getLogger("shipyard.serving")

#: Which of ``FAILURE_KINDS`` each error is (the first class that matches); anything else is "internal".
ERROR_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (ContractViolation, "rejected"),
    (PayloadTooLarge, "too_large"),
    (UnsupportedMediaType, "unsupported_media_type"),
    (InvalidInput, "invalid"),
    (Overloaded, "overloaded"),
    (DeadlineExceeded, "timeout"),
    (ModelFailed, "model_error"),
)


def _problems(error: BaseException) -> tuple[tuple[int, str, str], ...]:
    return contract_problems(error.problems) if isinstance(error, ContractViolation) else ()


def failure_kind(error: BaseException) -> str:
    """A short, stable name for why a request got no prediction (the ``error`` column of ``failures``)."""
    return next((kind for cls, kind in ERROR_KINDS if isinstance(error, cls)), "internal")


@dataclass
class InferenceCall:
    """One prediction request on its way through the server, whatever protocol carried it."""

    model: str
    protocol: str
    #: The version the request asked for (OIP's ``/versions/{v}``), or None for whichever is served.
    version: int | None = None
    request_id: str = field(default_factory=new_request_id)
    started: float = field(default_factory=time.perf_counter)
    rows: int = 0
    #: The version that answered (or would have), as text for labels and logs; "-" before one is known.
    served_version: str = "-"
    #: The arm of a rollout the request went to (``stable`` when none runs, or before it was routed).
    arm: Arm = "stable"
    #: The version the engine routed the request to, once it has.
    routed_version: int | None = None

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def routed(self, version: int, arm: Arm) -> None:
        """The engine chose ``version`` and ``arm`` for this request (``Engine.predict``'s ``on_route``)."""
        self.routed_version, self.arm, self.served_version = version, arm, str(version)


class PredictionRecorder:
    """Hands answered and failed requests to the prediction log's sink.

    ``sink`` may be replaced while the server runs: a worker starts its log writer in its lifespan, and puts
    a ``NullSink`` back before closing it at shutdown.
    """

    def __init__(self, engine: Engine, sink: PredictionSink | None = None) -> None:
        self.engine = engine
        self.sink: PredictionSink = sink or NullSink()

    def answered(self, call: InferenceCall, request: DecodedRequest, result: PredictionResult) -> None:
        call.served_version = str(result.version)
        self.sink.submit(
            PredictionRecord(
                request_id=call.request_id,
                prediction_ids=result.prediction_ids,
                at=datetime.now(UTC),
                model=call.model,
                version=result.version,
                protocol=call.protocol,
                inputs=result.inputs if result.inputs is not None else request.frame,
                predictions=result.predictions,
                probabilities=result.probabilities,
                latency_seconds=call.elapsed(),
                batch_rows=result.batch_rows,
                arm=result.arm,
            )
        )
        if result.shadow is not None:
            shadow = result.shadow
            shadow.add_done_callback(lambda done: self._shadow_answered(call, request, done))

    def _shadow_answered(
        self, call: InferenceCall, request: DecodedRequest, done: asyncio.Task[ShadowAnswer | None]
    ) -> None:
        """The candidate's answer to a mirrored copy, logged with the arm ``shadow`` (a dropped copy, or one
        cut short by shutdown, leaves nothing)."""
        if done.cancelled() or done.exception() is not None or (answer := done.result()) is None:
            return
        at = datetime.now(UTC)
        if answer.result is not None:
            result = answer.result
            self.sink.submit(
                PredictionRecord(
                    request_id=call.request_id,
                    prediction_ids=result.prediction_ids,
                    at=at,
                    model=call.model,
                    version=answer.version,
                    protocol=call.protocol,
                    inputs=result.inputs if result.inputs is not None else request.frame,
                    predictions=result.predictions,
                    probabilities=result.probabilities,
                    latency_seconds=answer.seconds,
                    batch_rows=result.batch_rows,
                    arm="shadow",
                )
            )
        elif answer.error is not None:
            error = answer.error
            self.sink.submit_failure(
                FailedRequest(
                    request_id=call.request_id,
                    at=at,
                    model=call.model,
                    version=answer.version,
                    protocol=call.protocol,
                    status=error.http_status if isinstance(error, ShipyardError) else 500,
                    error=failure_kind(error),
                    rows=answer.rows,
                    latency_seconds=answer.seconds,
                    problems=_problems(error),
                    arm="shadow",
                )
            )

    def failed(self, call: InferenceCall, error: BaseException, status: int) -> None:
        """Record a refused or failed request against the version and arm that would have answered it; a
        request for a model or version this server does not serve is nobody's failure and is not recorded."""
        if call.routed_version is None:  # refused before routing (an unreadable body): who would answer
            answering = self._answering(call)
            if answering is None:
                return
            call.routed(*answering)
        version = call.routed_version
        assert version is not None
        self.sink.submit_failure(
            FailedRequest(
                request_id=call.request_id,
                at=datetime.now(UTC),
                model=call.model,
                version=version,
                protocol=call.protocol,
                status=status,
                error=failure_kind(error),
                rows=call.rows,
                latency_seconds=call.elapsed(),
                problems=_problems(error),
                arm=call.arm,
            )
        )

    def flush(self) -> None:
        """Write what this worker has buffered, so its newest predictions can be found (for late labels)."""
        self.sink.flush()

    def _answering(self, call: InferenceCall) -> tuple[int, Arm] | None:
        """The version and arm the request names or stable is, or None for what this server does not serve."""
        try:
            slot = self.engine.slot(call.model, call.version)
        except ShipyardError:
            return None
        return slot.version.version, "stable" if slot is self.engine.served(call.model).current else "canary"
