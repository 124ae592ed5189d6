"""The prediction log: every served prediction as rows of Parquet segments, written off the request path.

writer = LogWriter(settings.log_url)          # the server's sink: submit() never blocks
log = PredictionLog(settings.log_url)         # reading needs no server
log.scan("fraud", 3, start, end)              # a pyarrow Table
log.query("SELECT version, count(*) FROM predictions GROUP BY 1")
"""

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
