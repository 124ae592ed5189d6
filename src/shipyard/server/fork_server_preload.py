"""Imported by the fork server of ``shipyard serve`` (``fork_server.py``) before it forks any worker: what
every worker needs, whatever it serves. The garbage collector runs rarely while it imports, as in a spawned
worker, and what was imported is then frozen, out of the collector's reach: a worker's collections never
touch those objects, so their pages stay shared with the fork server instead of being copied."""

from __future__ import annotations

import gc
import importlib

from shipyard._collector import collect_rarely

#: uvicorn's parts a worker runs (its server, lifespan, loop and protocol), then shipyard's app and all it
#: imports: the web stack, pandas, pyarrow, SQLAlchemy and the registry.
MODULES = (
    "uvicorn.server",
    "uvicorn.lifespan.on",
    "uvicorn.loops.auto",
    "uvicorn.protocols.http.auto",
    "shipyard.server.app",
)


def _preload() -> None:
    collect_rarely()
    for name in MODULES:
        importlib.import_module(name)
    from shipyard.flavors._process import own_process
    from shipyard.flavors.sklearn import import_loader

    own_process()  # as in a worker: nothing but shipyard loads model files here
    import_loader()  # scikit-learn, the library of most models: imported once for every worker
    # Frozen without a collection first: one took 150 ms here, every worker waiting for it, to find about
    # 130 unreachable objects (a few kilobytes kept for good instead).
    gc.freeze()


_preload()
