"""A batch scoring job: plan the chunks, score them on all local cores (or on Ray), keep the manifest.

The driver reads the inputs chunk by chunk and hands each to a worker, keeping at most two chunks per worker
in flight, so memory holds a few chunks whatever the input size. Workers are threads sharing one loaded
model, each limited to one OpenMP/BLAS thread: scikit-learn, LightGBM, XGBoost, ONNX Runtime and PyTorch
predict outside the GIL, so the threads use every core and the job starts in the time it takes to load the
model once. A generic Python model may hold the GIL, so it gets a pool of worker processes instead, each
loading the model once. Workers write their part and reject files themselves; the driver records each
finished chunk in the manifest, so a job killed at any point resumes with the same run id where it
stopped, and the output is then exactly what an uninterrupted run writes.

Policy decides the exit: ``max_reject_share`` fails the job when more of the rows than that could not be
scored; an unreadable input file fails it unless ``skip_unreadable`` is set. Either way every readable row
is scored and every problem reported.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

from shipyard.batch.history import finish_run, start_run
from shipyard.batch.inputs import (
    Chunk,
    ChunkSpec,
    FileProblem,
    InputFile,
    UnreadableInput,
    chunk_specs,
    chunks,
    find_inputs,
    read_chunk,
)
from shipyard.batch.manifest import (
    SUCCESS,
    Manifest,
    read_manifest,
    remove_leftovers,
    resume_or_start,
    write_atomically,
    write_manifest,
)
from shipyard.batch.scoring import ChunkOutcome, ChunkScorer, ScoringPlan
from shipyard.errors import InvalidInput, ShipyardError
from shipyard.flavors.base import LoadedModel
from shipyard.registry import ModelVersion, Registry

log = logging.getLogger("shipyard.batch")

DEFAULT_CHUNK_ROWS = 100_000
ENGINES = ("local", "ray")
#: Formats whose predict may hold the GIL (any Python code): scored by worker processes, not threads.
GIL_BOUND_FLAVORS = frozenset({"python"})
#: Inputs smaller than this are scored in the calling process: starting workers would cost more.
IN_PROCESS_ROWS = 50_000


class BatchInterrupted(ShipyardError):
    """The run stopped before the end (a full disk, an unwritable folder); resume it with its run id."""


class BatchWorkersFailed(ShipyardError):
    """A worker process died; the run can be resumed with its run id."""


class BatchPolicyFailed(ShipyardError):
    """The job ran, but its declared policy (reject share, unreadable files) says it failed."""

    exit_code = 1


@dataclass
class BatchResult:
    run_id: str
    model: str
    version: int
    output: str
    status: str
    rows: int = 0
    scored: int = 0
    rejected: int = 0
    chunks: int = 0
    resumed_chunks: int = 0
    seconds: float = 0.0
    unreadable: list[FileProblem] = field(default_factory=list)
    empty_files: list[str] = field(default_factory=list)
    examples: list[tuple[str, int, str, str]] = field(default_factory=list)

    @property
    def reject_share(self) -> float:
        return self.rejected / self.rows if self.rows else 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "model": self.model,
            "version": self.version,
            "output": self.output,
            "status": self.status,
            "rows": self.rows,
            "scored": self.scored,
            "rejected": self.rejected,
            "reject_share": round(self.reject_share, 6),
            "chunks": self.chunks,
            "resumed_chunks": self.resumed_chunks,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "unreadable": [problem.__dict__ for problem in self.unreadable],
            "empty_files": list(self.empty_files),
            "examples": [
                {"file": file, "row": row, "column": column, "reason": reason}
                for file, row, column, reason in self.examples
            ],
        }


def score_batch(
    registry: Registry,
    reference: str,
    inputs: list[str] | pd.DataFrame | pa.Table,
    output: str | Path,
    *,
    run_id: str | None = None,
    key_columns: list[str] | None = None,
    format: str = "parquet",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    workers: int | None = None,
    max_reject_share: float = 1.0,
    skip_unreadable: bool = False,
    trust: bool = False,
    log_predictions: bool = False,
    engine: str = "local",
    progress: Callable[[int, int | None], None] | None = None,
) -> BatchResult:
    """Score ``inputs`` (files, folders, globs, or a table) with ``reference`` into the folder ``output``.

    Raises ``BatchPolicyFailed`` when the policy says the job failed (the output is written all the same,
    without ``_SUCCESS``); returns the result otherwise. ``progress(rows_done, rows_total)`` is called as
    chunks finish (``rows_total`` None when unknown, as for CSV).
    """
    if engine not in ENGINES:
        raise InvalidInput(f"the engine is one of {', '.join(ENGINES)}, got {engine!r}")
    if format not in ("parquet", "csv"):
        raise InvalidInput(f"output format is parquet or csv, got {format!r}")
    if chunk_rows < 1:
        raise InvalidInput(f"chunk_rows must be at least 1, got {chunk_rows}")
    if not 0 <= max_reject_share <= 1:
        raise InvalidInput(f"max_reject_share is a share between 0 and 1, got {max_reject_share}")
    folder = Path(output).resolve()
    earlier = read_manifest(folder)
    if run_id is not None and earlier is not None and earlier.run_id == run_id:
        version = registry.resolve(f"{earlier.model}/{earlier.version}")  # a resumed run keeps its version
    else:
        version = registry.resolve(reference)
    # Loading a model imports its library (seconds, for scikit-learn's skops): begun now, it overlaps with
    # hashing the inputs and reading the first chunk.
    loading = ThreadPoolExecutor(1, thread_name_prefix="batch-load")
    preload = loading.submit(registry.load_model, version.ref, trust=trust)
    loading.shutdown(wait=False)
    files = _input_files(inputs, folder)
    given_id = run_id is not None
    run_id = run_id or _new_run_id()
    fresh = Manifest(
        run_id=run_id,
        model=version.model,
        version=version.version,
        reference=reference,
        inputs=[file.to_dict() for file in files],
        chunk_rows=chunk_rows,
        format=format,
        key_columns=key_columns,
        created_at=datetime.now(UTC).isoformat(),
    )
    manifest = resume_or_start(folder, fresh, given_id)
    result = BatchResult(run_id, version.model, version.version, str(folder), "running")
    result.resumed_chunks = len(manifest.chunks)
    if manifest.status == "succeeded":
        return _summarise(manifest, result, "succeeded")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SUCCESS).unlink(missing_ok=True)
    remove_leftovers(folder)
    manifest.status = "running"
    write_manifest(folder, manifest)
    start_run(registry, manifest, str(folder))
    plan = ScoringPlan(
        home=str(registry.settings.home),
        registry_url=registry.settings.registry_url,
        artifacts_url=registry.settings.artifacts_url,
        reference=version.ref,
        output=str(folder),
        format=format,
        run_id=run_id,
        key_columns=key_columns,
        input_paths=[file.path for file in files],
        input_formats=[file.format for file in files],
        trust=trust,
        log_url=registry.settings.log_url if log_predictions else None,
        started_at=manifest.created_at,
    )
    total = (
        sum(file.rows for file in files if file.rows is not None)
        if all(f.rows is not None for f in files)
        else None
    )
    started = time.perf_counter()
    done_rows = sum(int(chunk["rows"]) for chunk in manifest.chunks.values())

    def finished(outcome: ChunkOutcome) -> None:
        nonlocal done_rows
        manifest.chunks[outcome.key] = outcome.to_dict()
        write_manifest(folder, manifest)
        done_rows += outcome.rows
        if progress is not None:
            progress(done_rows, total)

    if progress is not None:
        progress(done_rows, total)
    features = [str(c["name"]) for c in (version.input_schema or {}).get("columns", [])]
    features = features or list(version.info.feature_names or [])
    workers = max(1, workers or os.cpu_count() or 1)

    def score_locally() -> None:
        pending = _pending_chunks(files, manifest, chunk_rows, folder, features)
        small = total is not None and total - done_rows <= IN_PROCESS_ROWS
        if version.flavor in GIL_BOUND_FLAVORS and workers > 1 and not small:
            preload.result()  # a model that cannot load (not trusted, damaged) is reported as itself
            _score_in_pool(plan, pending, finished, workers)
        else:
            _score_in_threads(plan, (version, preload), pending, finished, 1 if small else workers)

    def score_on_ray() -> None:
        from shipyard.batch.ray_engine import score_with_ray

        def unreadable(file_index: int, problem: str) -> None:
            path = files[file_index].path
            manifest.files[str(file_index)] = {"path": path, "status": "unreadable", "problem": problem}

        specs = _pending_specs(files, manifest, chunk_rows, folder)
        address = registry.settings.ray_address
        score_with_ray(plan, files, specs, features, finished, unreadable, workers, address)

    try:
        score_on_ray() if engine == "ray" else score_locally()
    except BaseException as error:
        why = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        manifest.status = "interrupted"
        with contextlib.suppress(OSError):  # the disk that failed a part file may fail this too
            write_manifest(folder, manifest)
        finish_run(registry, _summarise(manifest, result, "interrupted"), error=why)
        if isinstance(error, OSError):
            raise BatchInterrupted(
                f"batch run {run_id} stopped: {error.strerror or error} while writing to {folder}; "
                f"every finished chunk is kept: fix it and resume with --run-id {run_id}"
            ) from error
        raise
    result.seconds = time.perf_counter() - started
    status = _judge(manifest, max_reject_share, skip_unreadable)
    manifest.status = status
    write_manifest(folder, manifest)
    summary = _summarise(manifest, result, status)
    if status == "succeeded":
        write_atomically(folder / SUCCESS, b"")
        finish_run(registry, summary)
        return summary
    reason = _failure_reason(summary, max_reject_share)
    finish_run(registry, summary, error=reason)
    raise BatchPolicyFailed(f"batch run {run_id} failed its policy: {reason}; see {folder}")


def _input_files(inputs: list[str] | pd.DataFrame | pa.Table, folder: Path) -> list[InputFile]:
    """Paths as given; a table from Python is first written next to the output, as a Parquet input."""
    if isinstance(inputs, (pd.DataFrame, pa.Table)):
        table = inputs if isinstance(inputs, pa.Table) else pa.Table.from_pandas(inputs, preserve_index=False)
        staging = folder.parent / f".{folder.name}.input"
        staging.mkdir(parents=True, exist_ok=True)
        path = staging / "table.parquet"
        pq.write_table(table, path)
        return find_inputs([str(path)])
    if isinstance(inputs, str):
        inputs = [inputs]
    return find_inputs(list(inputs))


def _pending_chunks(
    files: list[InputFile], manifest: Manifest, chunk_rows: int, folder: Path, features: list[str]
) -> Iterator[Chunk]:
    """Chunks not yet finished (listed in the manifest with their output present); unreadable files are
    recorded in the manifest and skipped, the rest go on. A resumed Parquet file has only its unfinished
    chunks read (its footer says where they are); any other file is streamed, finished chunks skipped."""

    def finished(key: str) -> bool:
        recorded = manifest.chunks.get(key)
        return recorded is not None and _outputs_exist(folder, recorded)

    for index, file in enumerate(files):
        count = 0
        resumed = file.rows is not None and any(key.startswith(f"{index:05d}-") for key in manifest.chunks)
        try:
            if resumed:
                for spec in chunk_specs(file, index, chunk_rows):
                    count += 1
                    if not finished(spec.key):
                        yield read_chunk(file, spec, features)
            else:
                for chunk in chunks(file, index, chunk_rows, text_columns=features):
                    count += 1
                    if not finished(chunk.key):
                        yield chunk
        except UnreadableInput as error:
            log.warning("%s", error)
            manifest.files[str(index)] = {"path": file.path, "status": "unreadable", "problem": str(error)}
            continue
        manifest.files[str(index)] = {"path": file.path, "status": "done" if count else "empty"}


def _pending_specs(
    files: list[InputFile], manifest: Manifest, chunk_rows: int, folder: Path
) -> list[ChunkSpec]:
    """The chunks not yet finished, as descriptions (the Ray engine's workers read their rows)."""
    specs = []
    for index, file in enumerate(files):
        try:
            found = chunk_specs(file, index, chunk_rows)
        except UnreadableInput as error:
            manifest.files[str(index)] = {"path": file.path, "status": "unreadable", "problem": str(error)}
            continue
        manifest.files[str(index)] = {"path": file.path, "status": "done" if found else "empty"}
        for spec in found:
            recorded = manifest.chunks.get(spec.key)
            if recorded is None or not _outputs_exist(folder, recorded):
                specs.append(spec)
    return specs


def _outputs_exist(folder: Path, recorded: dict[str, Any]) -> bool:
    return all(
        (folder / name).is_file() for name in (recorded.get("output"), recorded.get("rejects")) if name
    )


def _score_in_threads(
    plan: ScoringPlan,
    loaded: tuple[ModelVersion, Future[LoadedModel]],
    pending: Iterator[Chunk],
    finished: Callable[[ChunkOutcome], None],
    workers: int,
) -> None:
    scorers: list[ChunkScorer] = []

    def one_thread_each() -> None:  # OpenMP's thread count is per calling thread
        threadpool_limits(limits=1, user_api="openmp")

    def submit(chunk: Chunk) -> Future[ChunkOutcome]:
        if not scorers:
            scorers.append(ChunkScorer(plan, (loaded[0], loaded[1].result())))
        return pool.submit(scorers[0].score, chunk)

    with (
        threadpool_limits(limits=1 if workers > 1 else None),
        ThreadPoolExecutor(
            workers, thread_name_prefix="batch", initializer=one_thread_each if workers > 1 else None
        ) as pool,
    ):
        _bounded(submit, pending, finished, 2 * workers)


_worker_scorer: ChunkScorer | None = None


def _start_worker(plan: ScoringPlan) -> None:
    global _worker_scorer
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")  # one thread per worker process: the processes use the cores
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
    """Submit chunks with at most ``limit`` in flight: memory holds a few chunks, whatever the input."""
    in_flight: set[Future[ChunkOutcome]] = set()
    for chunk in pending:
        in_flight.add(submit(chunk))
        if len(in_flight) >= limit:
            done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                finished(future.result())
    for future in in_flight:
        finished(future.result())


def _judge(manifest: Manifest, max_reject_share: float, skip_unreadable: bool) -> str:
    rows = sum(int(chunk["rows"]) for chunk in manifest.chunks.values())
    rejected = sum(int(chunk["rejected"]) for chunk in manifest.chunks.values())
    unreadable = [entry for entry in manifest.files.values() if entry.get("status") == "unreadable"]
    if unreadable and not skip_unreadable:
        return "failed"
    if rows and rejected / rows > max_reject_share:
        return "failed"
    return "succeeded"


def _summarise(manifest: Manifest, result: BatchResult, status: str) -> BatchResult:
    result.status = status
    result.chunks = len(manifest.chunks)
    result.rows = sum(int(chunk["rows"]) for chunk in manifest.chunks.values())
    result.scored = sum(int(chunk["scored"]) for chunk in manifest.chunks.values())
    result.rejected = sum(int(chunk["rejected"]) for chunk in manifest.chunks.values())
    result.unreadable = [
        FileProblem(entry["path"], entry["problem"])
        for entry in manifest.files.values()
        if entry.get("status") == "unreadable"
    ]
    result.empty_files = [
        entry["path"] for entry in manifest.files.values() if entry.get("status") == "empty"
    ]
    result.examples = [
        (file, int(row), column, reason)
        for key in sorted(manifest.chunks)
        for file, row, column, reason in manifest.chunks[key].get("examples", [])
    ][:10]
    return result


def _failure_reason(result: BatchResult, max_reject_share: float) -> str:
    reasons = []
    if result.unreadable:
        reasons.append(
            f"{len(result.unreadable)} input file(s) unreadable "
            f"({', '.join(p.path for p in result.unreadable)}); pass --skip-unreadable to accept that"
        )
    if result.rows and result.reject_share > max_reject_share:
        reasons.append(
            f"{result.rejected:,} of {result.rows:,} rows rejected ({result.reject_share:.2%}), more than "
            f"the allowed {max_reject_share:.2%}"
        )
    return "; ".join(reasons)


def _new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
