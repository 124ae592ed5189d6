"""Batch scoring: any input size in bounded memory, validated by the version's contract, resumable.

result = score_batch(registry, "fraud@production", ["data/*.parquet"], "preds/")   # all local cores
result = score_batch(registry, "fraud@production", ["data/"], "preds/", BatchOptions(key_columns=["id"]))
result.scored, result.rejected, result.output
batch_runs(registry)                                                              # the run history
"""

from shipyard.batch.history import batch_run, batch_runs
from shipyard.batch.job import score_batch
from shipyard.batch.options import BatchOptions
from shipyard.batch.result import BatchResult
from shipyard.errors import BatchInterrupted, BatchPolicyFailed

__all__ = [
    "BatchInterrupted",
    "BatchOptions",
    "BatchPolicyFailed",
    "BatchResult",
    "batch_run",
    "batch_runs",
    "score_batch",
]
