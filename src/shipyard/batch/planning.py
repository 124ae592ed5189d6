"""Planning a batch run: which version, which input files, a new run or the resumption of one.

Nothing is scored here. The plan fixes what the run is (its manifest, carried on from the output folder when
the same run id is given again) and what every worker needs (the ``ScoringPlan``); the model starts loading
in the background as soon as the version is known, overlapping with hashing the inputs.
"""

from __future__ import annotations

import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.batch.event_times import check_event_times
from shipyard.batch.inputs import InputFile, find_inputs
from shipyard.batch.manifest import Manifest, read_manifest, resume_or_start
from shipyard.batch.options import BatchOptions
from shipyard.batch.pending import PendingWork
from shipyard.batch.result import BatchResult
from shipyard.batch.scoring import ScoringPlan
from shipyard.flavors.base import LoadedModel
from shipyard.registry import ModelVersion, Registry


@dataclass
class PlannedRun:
    """A run about to be scored: its version, inputs and manifest, and what its workers need."""

    folder: Path
    version: ModelVersion
    model: Future[LoadedModel]  # loading since the version was resolved
    files: list[InputFile]
    manifest: Manifest
    scoring: ScoringPlan
    result: BatchResult

    @property
    def features(self) -> list[str]:
        """The version's input columns: read as text from CSV files, for the contract to parse."""
        columns = [str(c["name"]) for c in (self.version.input_schema or {}).get("columns", [])]
        return columns or list(self.version.info.feature_names or [])

    @property
    def total_rows(self) -> int | None:
        """Rows in all the inputs, or None when a file does not say (CSV)."""
        if any(file.rows is None for file in self.files):
            return None
        return sum(file.rows for file in self.files if file.rows is not None)

    @property
    def done_rows(self) -> int:
        """Rows of the chunks the manifest lists as finished."""
        return sum(int(chunk["rows"]) for chunk in self.manifest.chunks.values())

    @property
    def complete(self) -> bool:
        """Whether the folder already holds this run, finished: nothing is left to do."""
        return self.manifest.status == "succeeded"

    def pending_work(self) -> PendingWork:
        """What is left to score, as of now."""
        total = self.total_rows
        remaining = None if total is None else total - self.done_rows
        return PendingWork(self.files, self.manifest, self.folder, self.features, remaining)


def plan_run(
    registry: Registry,
    reference: str,
    inputs: list[str] | pd.DataFrame | pa.Table,
    output: str | Path,
    options: BatchOptions,
) -> PlannedRun:
    """Resolve the version, list and hash the inputs, and resume or start the folder's manifest."""
    folder = Path(output).resolve()
    earlier = read_manifest(folder)
    if options.run_id is not None and earlier is not None and earlier.run_id == options.run_id:
        version = registry.resolve(f"{earlier.model}/{earlier.version}")  # a resumed run keeps its version
    else:
        version = registry.resolve(reference)
    # Loading a model imports its library (seconds, for scikit-learn's skops): begun now, it overlaps with
    # hashing the inputs and reading the first chunk.
    loading = ThreadPoolExecutor(1, thread_name_prefix="batch-load")
    model = loading.submit(registry.load_model, version.ref, trust=options.trust)
    loading.shutdown(wait=False)
    files = _input_files(inputs, folder)
    if options.timestamp_column is not None:  # refused now, before a row is scored, if any time is bad
        check_event_times(files, options.timestamp_column)
    run_id = options.run_id or _new_run_id()
    fresh = Manifest(
        run_id=run_id,
        model=version.model,
        version=version.version,
        reference=reference,
        inputs=[file.to_dict() for file in files],
        chunk_rows=options.chunk_rows,
        format=options.format,
        key_columns=options.keys,
        created_at=datetime.now(UTC).isoformat(),
        timestamp_column=options.timestamp_column,
    )
    manifest = resume_or_start(folder, fresh, options.run_id is not None)
    result = BatchResult(run_id, version.model, version.version, str(folder), "running")
    result.resumed_chunks = len(manifest.chunks)
    scoring = _scoring_plan(registry, version, files, manifest, folder, options)
    return PlannedRun(folder, version, model, files, manifest, scoring, result)


def _scoring_plan(
    registry: Registry,
    version: ModelVersion,
    files: list[InputFile],
    manifest: Manifest,
    folder: Path,
    options: BatchOptions,
) -> ScoringPlan:
    """What a worker needs, in any process or on any node: how to reach the registry, what to write."""
    settings = registry.settings
    return ScoringPlan(
        home=str(settings.home),
        registry_url=settings.registry_url,
        artifacts_url=settings.artifacts_url,
        reference=version.ref,
        output=str(folder),
        format=options.format,
        run_id=manifest.run_id,
        key_columns=options.keys,
        input_paths=[file.path for file in files],
        input_formats=[file.format for file in files],
        trust=options.trust,
        log_url=settings.log_url if options.log_predictions else None,
        started_at=manifest.created_at,
        timestamp_column=options.timestamp_column,
    )


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


def _new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
