"""The Ray engine: the same chunks, scored by actors of a Ray cluster through ``ray.data``.

The driver plans the chunks (from Parquet footers; a CSV file is counted) and hands ray.data a dataset of
chunk descriptions, not rows. Each actor loads the model once and, per description, reads its chunk from
the input file itself and scores it with the very code the local engine runs (``ChunkScorer``): same
validation, same reject files, same part files, same names. Outcomes stream back to the driver, which
records them in the manifest as they arrive, so a Ray run resumes like a local one. The input files and the
output folder must be reachable from every Ray node under the same path (a shared or network file system),
and shipyard installed there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shipyard.batch.inputs import ChunkSpec, InputFile, read_chunk
from shipyard.batch.scoring import ChunkOutcome, ChunkScorer, ScoringPlan
from shipyard.errors import MissingDependency, UnreadableInput

if TYPE_CHECKING:
    from shipyard.batch.pending import PendingWork
    from shipyard.batch.planning import PlannedRun


class _ChunkActor:
    """A Ray actor: one model load, then chunk after chunk."""

    def __init__(self, plan: ScoringPlan, files: list[InputFile], text_columns: list[str]) -> None:
        self.scorer = ChunkScorer(plan)
        self.files = files
        self.text_columns = text_columns

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        results = []
        for file_index, index, first_row, rows in zip(
            batch["file_index"], batch["index"], batch["first_row"], batch["rows"], strict=True
        ):
            spec = ChunkSpec(int(file_index), int(index), int(first_row), int(rows))
            try:
                chunk = read_chunk(self.files[spec.file_index], spec, self.text_columns)
                results.append(json.dumps({"key": spec.key, **self.scorer.score(chunk).to_dict()}))
            except UnreadableInput as error:
                results.append(json.dumps({"key": spec.key, "unreadable": str(error)}))
        return {"outcome": results}


class RayEngine:
    """Actors of the Ray cluster at ``address``, or of a local Ray started for the job and stopped after."""

    def __init__(self, workers: int, address: str) -> None:
        self.workers = workers
        self.address = address

    def run(self, run: PlannedRun, work: PendingWork, finished: Callable[[ChunkOutcome], None]) -> None:
        specs = work.specs()  # planned on the driver: from Parquet footers; a CSV file is counted
        try:
            import ray
        except ImportError:
            raise MissingDependency("ray", "ray", "the Ray engine ('--engine ray')") from None
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(
                address=self.address or None,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                ignore_reinit_error=True,
            )
        try:
            if specs:
                self._score(ray, run, specs, work, finished)
        finally:
            if started_here:
                ray.shutdown()

    def _score(
        self,
        ray: Any,
        run: PlannedRun,
        specs: list[ChunkSpec],
        work: PendingWork,
        finished: Callable[[ChunkOutcome], None],
    ) -> None:
        """Hand ray.data one description per chunk; report outcomes and unreadable files as they arrive."""
        items = [
            {"file_index": s.file_index, "index": s.index, "first_row": s.first_row, "rows": s.rows}
            for s in specs
        ]
        dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            _ChunkActor,
            fn_constructor_args=(run.scoring, run.files, run.features),
            batch_size=1,
            concurrency=self.workers,
            num_cpus=1,
        )
        for row in dataset.iter_rows():
            outcome = json.loads(row["outcome"])
            if "unreadable" in outcome:
                work.unreadable(int(outcome["key"].split("-")[0]), outcome["unreadable"])
                continue
            key = outcome.pop("key")
            finished(ChunkOutcome.from_dict(key, outcome))
