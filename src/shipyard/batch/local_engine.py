"""The local engine: every core of this machine, one model load.

The driver reads the inputs chunk by chunk (pyarrow decodes outside the GIL) and hands each to a worker,
keeping at most two chunks per worker in flight, so memory holds a few chunks whatever the input size.
Workers are threads sharing one loaded model, each limited to one OpenMP/BLAS thread: scikit-learn,
LightGBM, XGBoost, ONNX Runtime and PyTorch predict outside the GIL, so the threads use every core, and
while one predicts another checks or writes its chunk. A worker checks its chunk against the contract before
it needs the model, so the first chunks are read and checked while the model is still loading (importing
its library takes seconds). A generic Python model may hold the GIL, so it gets a pool of worker processes
instead, each loading the model once. Workers write their part and reject files themselves.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

from threadpoolctl import threadpool_limits

from shipyard.batch.inputs import Chunk
from shipyard.batch.scoring import ChunkOutcome, ChunkScorer, ScoringPlan
from shipyard.errors import BatchWorkersFailed
from shipyard.flavors.base import LoadedModel
from shipyard.registry import ModelVersion
from shipyard.threads import one_native_thread_per_process

if TYPE_CHECKING:
    from shipyard.batch.pending import PendingWork
    from shipyard.batch.planning import PlannedRun

#: Formats whose predict may hold the GIL (any Python code): scored by worker processes, not threads.
GIL_BOUND_FLAVORS = frozenset({"python"})
#: Inputs smaller than this are scored in the calling process: starting workers would cost more.
IN_PROCESS_ROWS = 50_000


class LocalEngine:
    """Threads sharing the run's loaded model, or worker processes for a model that may hold the GIL."""

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def run(self, run: PlannedRun, work: PendingWork, finished: Callable[[ChunkOutcome], None]) -> None:
        small = work.remaining_rows is not None and work.remaining_rows <= IN_PROCESS_ROWS
        if run.version.flavor in GIL_BOUND_FLAVORS and self.workers > 1 and not small:
            run.model.result()  # a model that cannot load (not trusted, damaged) is reported as itself
            _score_in_pool(run.scoring, work.chunks(), finished, self.workers)
        else:
            loaded = (run.version, run.model)
            _score_in_threads(run.scoring, loaded, work.chunks(), finished, 1 if small else self.workers)


def _score_in_threads(
    plan: ScoringPlan,
    loaded: tuple[ModelVersion, Future[LoadedModel]],
    pending: Iterator[Chunk],
    finished: Callable[[ChunkOutcome], None],
    workers: int,
) -> None:
    model = loaded[1]
    scorer = ChunkScorer(plan, loaded)
    limited = threading.local()

    def score(chunk: Chunk) -> ChunkOutcome:
        checked = scorer.check(chunk)  # the contract alone: done while the model may still be loading
        model.result()  # a model that cannot load (not trusted, damaged) raises here, as itself
        if workers > 1 and not getattr(limited, "done", False):
            # OpenMP's thread count is per calling thread, and its library is loaded with the model.
            threadpool_limits(limits=1, user_api="openmp")
            limited.done = True
        return scorer.finish(checked)

    with (
        threadpool_limits(limits=1 if workers > 1 else None),
        ThreadPoolExecutor(workers, thread_name_prefix="batch") as pool,
    ):
        _bounded(lambda chunk: pool.submit(score, chunk), pending, finished, 2 * workers)


_worker_scorer: ChunkScorer | None = None


def _start_worker(plan: ScoringPlan) -> None:
    global _worker_scorer
    one_native_thread_per_process()  # the processes use the cores
    _worker_scorer = ChunkScorer(plan)


def _score_in_worker(chunk: Chunk) -> ChunkOutcome:
    assert _worker_scorer is not None, "worker not started"
    return _worker_scorer.score(chunk)


def _score_in_pool(
    plan: ScoringPlan, pending: Iterator[Chunk], finished: Callable[[ChunkOutcome], None], workers: int
) -> None:
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=_start_worker, initargs=(plan,)
        ) as pool:
            _bounded(lambda chunk: pool.submit(_score_in_worker, chunk), pending, finished, 2 * workers)
    except BrokenProcessPool as error:
        raise BatchWorkersFailed(
            "a batch worker process died (out of memory, killed, or it could not start); resume the run with "
            "its run id. If score_batch runs from a script, guard the call with "
            "'if __name__ == \"__main__\":' (worker processes import the script again)"
        ) from error


def _bounded(
    submit: Callable[[Chunk], Future[ChunkOutcome]],
    pending: Iterator[Chunk],
    finished: Callable[[ChunkOutcome], None],
    limit: int,
) -> None:
    """Submit chunks with at most ``limit`` in flight (memory holds a few chunks, whatever the input) and
    report each as it finishes.

    When a chunk fails, or the driver is interrupted, the chunks not yet started are cancelled and the error
    goes on as raised; chunks that finished before it are reported first, so the manifest keeps them.
    """
    in_flight: set[Future[ChunkOutcome]] = set()
    try:
        for chunk in pending:
            in_flight.add(submit(chunk))
            if len(in_flight) >= limit:
                in_flight = _report_finished(in_flight, finished)
        while in_flight:
            in_flight = _report_finished(in_flight, finished)
    finally:
        for future in in_flight:
            future.cancel()


def _report_finished(
    in_flight: set[Future[ChunkOutcome]], finished: Callable[[ChunkOutcome], None]
) -> set[Future[ChunkOutcome]]:
    """Wait for at least one chunk to finish and report every finished one; the chunks still running."""
    done, running = wait(in_flight, return_when=FIRST_COMPLETED)
    failed = [future for future in done if future.exception() is not None]
    for future in done:
        if future not in failed:
            finished(future.result())
    if failed:
        failed[0].result()  # raises it; the caller cancels the chunks not yet started
    return running
