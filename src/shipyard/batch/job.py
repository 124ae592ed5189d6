"""A batch scoring job: plan the run, score its pending chunks on an engine, judge the outcome.

Planning fixes the version, the inputs and the manifest (a run given its id again resumes where it
stopped). An engine (every local core, or a Ray cluster) scores the chunks the manifest does not list as
finished; the driver records each finished chunk in the manifest as it arrives, so a job killed at any
point resumes with the same run id where it stopped, and the output is then exactly what an uninterrupted
run writes.

Policy decides the exit: ``max_reject_share`` fails the job when more of the rows than that could not be
scored; an unreadable input file fails it unless ``skip_unreadable`` is set. Either way every readable row
is scored and every problem reported.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa

from shipyard.batch.engines import Engine, engine_for
from shipyard.batch.history import finish_run, start_run
from shipyard.batch.manifest import SUCCESS, Manifest, remove_leftovers, write_atomically, write_manifest
from shipyard.batch.options import BatchOptions
from shipyard.batch.planning import PlannedRun, plan_run
from shipyard.batch.result import BatchResult, summarise
from shipyard.batch.scoring import ChunkOutcome
from shipyard.errors import BatchInterrupted, BatchPolicyFailed
from shipyard.registry import Registry

#: ``progress(rows_done, rows_total)``; ``rows_total`` is None when unknown, as for CSV.
Progress = Callable[[int, int | None], None]


def score_batch(
    registry: Registry,
    reference: str,
    inputs: list[str] | pd.DataFrame | pa.Table,
    output: str | Path,
    options: BatchOptions | None = None,
    *,
    progress: Progress | None = None,
) -> BatchResult:
    """Score ``inputs`` (files, folders, globs, or a table) with ``reference`` into the folder ``output``.

    Raises ``BatchPolicyFailed`` when the policy says the job failed (the output is written all the same,
    without ``_SUCCESS``); returns the result otherwise. ``progress(rows_done, rows_total)`` is called as
    chunks finish (``rows_total`` None when unknown, as for CSV).
    """
    options = options if options is not None else BatchOptions()
    run = plan_run(registry, reference, inputs, output, options)
    if run.complete:
        return summarise(run.manifest, run.result, "succeeded")
    _open_folder(registry, run)
    run.result.seconds = _score_pending(registry, run, engine_for(options, registry.settings), progress)
    return _judge(registry, run, options)


def _open_folder(registry: Registry, run: PlannedRun) -> None:
    """Make the output folder ready to write (no ``_SUCCESS``, no half-written leftovers) and record the
    run as running, in its manifest and in the run history."""
    run.folder.mkdir(parents=True, exist_ok=True)
    (run.folder / SUCCESS).unlink(missing_ok=True)
    remove_leftovers(run.folder)
    run.manifest.status = "running"
    write_manifest(run.folder, run.manifest)
    start_run(registry, run.manifest, str(run.folder))


class _ChunkRecorder:
    """Records each finished chunk in the manifest, rewritten whole each time, and reports progress."""

    def __init__(self, run: PlannedRun, progress: Progress | None) -> None:
        self.run = run
        self.progress = progress
        self.total = run.total_rows
        self.done = run.done_rows

    def __call__(self, outcome: ChunkOutcome) -> None:
        self.run.manifest.chunks[outcome.key] = outcome.to_dict()
        write_manifest(self.run.folder, self.run.manifest)
        self.done += outcome.rows
        self.report()

    def report(self) -> None:
        if self.progress is not None:
            self.progress(self.done, self.total)


def _score_pending(registry: Registry, run: PlannedRun, engine: Engine, progress: Progress | None) -> float:
    """Score what is left of the run on ``engine``; the seconds it took. A run that stops on the way is
    recorded as interrupted (every finished chunk kept) before the error goes on."""
    started = time.perf_counter()
    recorder = _ChunkRecorder(run, progress)
    recorder.report()
    try:
        engine.run(run, run.pending_work(), recorder)
    except BaseException as error:
        _record_interruption(registry, run, error)
        if isinstance(error, OSError):
            run_id = run.manifest.run_id
            raise BatchInterrupted(
                f"batch run {run_id} stopped: {error.strerror or error} while writing to {run.folder}; "
                f"every finished chunk is kept: fix it and resume with --run-id {run_id}"
            ) from error
        raise
    return time.perf_counter() - started


def _record_interruption(registry: Registry, run: PlannedRun, error: BaseException) -> None:
    why = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    run.manifest.status = "interrupted"
    with contextlib.suppress(OSError):  # the disk that failed a part file may fail this too
        write_manifest(run.folder, run.manifest)
    finish_run(registry, summarise(run.manifest, run.result, "interrupted"), error=why)


def _judge(registry: Registry, run: PlannedRun, options: BatchOptions) -> BatchResult:
    """Apply the policy to the finished run: record its status everywhere, and mark a success with
    ``_SUCCESS``; a run that failed its policy raises ``BatchPolicyFailed``, its output kept."""
    status = _policy_verdict(run.manifest, options)
    run.manifest.status = status
    write_manifest(run.folder, run.manifest)
    summary = summarise(run.manifest, run.result, status)
    if status == "succeeded":
        write_atomically(run.folder / SUCCESS, b"")
        finish_run(registry, summary)
        return summary
    reason = _failure_reason(summary, options.max_reject_share)
    finish_run(registry, summary, error=reason)
    raise BatchPolicyFailed(f"batch run {summary.run_id} failed its policy: {reason}; see {run.folder}")


def _policy_verdict(manifest: Manifest, options: BatchOptions) -> str:
    """``succeeded`` or ``failed``, as the options' policy says of the chunks and files the manifest lists."""
    rows = sum(int(chunk["rows"]) for chunk in manifest.chunks.values())
    rejected = sum(int(chunk["rejected"]) for chunk in manifest.chunks.values())
    unreadable = [entry for entry in manifest.files.values() if entry.get("status") == "unreadable"]
    if unreadable and not options.skip_unreadable:
        return "failed"
    if rows and rejected / rows > options.max_reject_share:
        return "failed"
    return "succeeded"


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
