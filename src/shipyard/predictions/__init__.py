"""The prediction log: every served prediction as rows of Parquet segments, written off the request path.

writer = LogWriter(settings.log_url)          # the server's sink: submit() never blocks
log = PredictionLog(settings.log_url)         # reading needs no server
log.scan("fraud", 3, start, end)              # a pyarrow Table
log.query("SELECT version, count(*) FROM predictions GROUP BY 1")

Names are imported on first use, so ``import shipyard.predictions.names`` (the log's column names and
failure kinds, which alert rules check) loads neither pyarrow nor DuckDB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard._lazy_exports import lazy_exports

if TYPE_CHECKING:
    from shipyard.predictions.maintenance import CompactionResult, compact, expire, prune
    from shipyard.predictions.reader import PredictionLog
    from shipyard.predictions.records import PredictionRecord
    from shipyard.predictions.segments import Segment, SegmentStore
    from shipyard.predictions.writer import LogWriter

__all__ = [
    "CompactionResult",
    "LogWriter",
    "PredictionLog",
    "PredictionRecord",
    "Segment",
    "SegmentStore",
    "compact",
    "expire",
    "prune",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "shipyard.predictions.maintenance": ("CompactionResult", "compact", "expire", "prune"),
            "shipyard.predictions.reader": ("PredictionLog",),
            "shipyard.predictions.records": ("PredictionRecord",),
            "shipyard.predictions.segments": ("Segment", "SegmentStore"),
            "shipyard.predictions.writer": ("LogWriter",),
        },
    )
