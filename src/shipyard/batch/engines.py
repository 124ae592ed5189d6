"""The engines a batch run can score on, behind one small interface.

An engine takes a planned run and its pending work, scores every pending chunk somewhere (threads or
worker processes here, actors on a Ray cluster), and reports each finished chunk to the driver, which keeps
the manifest. What the run is, and whether it succeeded, is decided around the engine, never inside it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from shipyard.batch.local_engine import LocalEngine
from shipyard.batch.ray_engine import RayEngine
from shipyard.batch.scoring import ChunkOutcome

if TYPE_CHECKING:
    from shipyard.batch.options import BatchOptions
    from shipyard.batch.pending import PendingWork
    from shipyard.batch.planning import PlannedRun
    from shipyard.config import Settings

#: Called on the driver once per finished chunk, in the order chunks finish.
ChunkFinished = Callable[[ChunkOutcome], None]


class Engine(Protocol):
    def run(self, run: PlannedRun, work: PendingWork, finished: ChunkFinished) -> None:
        """Score every chunk of ``work``, calling ``finished`` with each outcome as it arrives."""
        ...


def engine_for(options: BatchOptions, settings: Settings) -> Engine:
    """The engine ``options.engine`` names, with ``options.worker_count`` workers."""
    engines: dict[str, Callable[[], Engine]] = {
        "local": lambda: LocalEngine(options.worker_count),
        "ray": lambda: RayEngine(options.worker_count, settings.ray_address),
    }
    return engines[options.engine]()
