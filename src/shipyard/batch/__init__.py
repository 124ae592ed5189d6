"""Batch scoring: any input size in bounded memory, validated by the version's contract, resumable.

result = score_batch(registry, "fraud@production", ["data/*.parquet"], "preds/")   # all local cores
result.scored, result.rejected, result.output
batch_runs(registry)                                                              # the run history
"""

from shipyard.batch.history import batch_run, batch_runs
from shipyard.batch.job import BatchInterrupted, BatchPolicyFailed, BatchResult, score_batch

__all__ = ["BatchInterrupted", "BatchPolicyFailed", "BatchResult", "batch_run", "batch_runs", "score_batch"]
