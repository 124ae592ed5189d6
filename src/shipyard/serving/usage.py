"""CPU time and memory of a serving process, sampled for the prediction log's ``usage`` stream.

Each worker samples itself every ``log_usage_seconds``; a monitoring window turns the samples of the
processes serving a version into CPU use (the growth of cumulative CPU time over wall time) and memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import psutil

from shipyard.predictions.events import UsageSample, process_name
from shipyard.serving.prediction_log import PredictionSink


async def sample_usage_forever(
    sink: Callable[[], PredictionSink], served: Callable[[], tuple[tuple[str, int], ...]], every: float
) -> None:
    """Hand ``sink()`` a sample of this process every ``every`` seconds, for the versions ``served()``."""
    process = psutil.Process()
    name = process_name()
    while True:
        versions = served()
        if versions:
            times = process.cpu_times()
            sink().submit_usage(
                UsageSample(
                    at=datetime.now(UTC),
                    process=name,
                    cpu_seconds=times.user + times.system,
                    rss_bytes=process.memory_info().rss,
                    served=versions,
                )
            )
        await asyncio.sleep(every)
