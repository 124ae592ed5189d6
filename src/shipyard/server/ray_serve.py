"""``shipyard serve --engine ray``: the server's replicas as one Ray Serve deployment.

Each replica is a process of the Ray cluster that builds the very app a uvicorn worker runs (``create_app``
from the same ``ServeConfig``, handed over with the deployment rather than through the environment), so a
request meets the same codecs, engine, batcher and prediction log. Ray Serve runs that app's lifespan in
every replica: the models load and warm before the replica takes traffic, each replica follows aliases and
rollouts by polling the registry as a worker does, and a replica that stops drains its requests and writes
its buffered predictions. Ray's HTTP proxy listens on the server's host and port and spreads the requests
over the replicas.

This process is the driver: it attaches to the ``ray_address`` cluster (else starts a local Ray), deploys
the application, and waits for SIGINT or SIGTERM; then it deletes the application (each replica shuts down
as above) and stops the Serve and Ray it started. As for batch scoring on Ray, every node needs shipyard
installed and must reach the workspace's database, artifacts and prediction log under the same URLs.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shipyard.errors import MissingDependency
from shipyard.server.config import ServeConfig

if TYPE_CHECKING:
    from starlette.applications import Starlette

log = logging.getLogger("shipyard.serving")

#: The Serve application's name on the cluster: ``serve status`` shows it, and a stop deletes it.
APP_NAME = "shipyard"
#: Requests a replica takes at once. The engine batches what arrives together, so Ray Serve's default (5)
#: would cap every batch at 5 requests; past this many, requests wait in Ray's router instead.
MAX_ONGOING_REQUESTS = 256
#: Seconds a stopping replica has to drain its queued requests and write its log (as uvicorn's graceful
#: shutdown under ``shipyard serve``).
GRACEFUL_SHUTDOWN_SECONDS = 30.0


def require_ray_serve() -> None:
    """Raise ``MissingDependency`` naming the extra, before anything starts, when Ray Serve is missing."""
    _import_serve()


def serve_on_ray(config: ServeConfig, *, host: str, port: int, replicas: int, address: str = "") -> None:
    """Serve ``config`` with ``replicas`` Ray Serve replicas behind Ray's proxy on ``host:port`` until
    SIGINT or SIGTERM. ``address``: the Ray cluster (empty: the Ray this process is attached to, else a
    local one started here and stopped after)."""
    ray, serve = _import_serve()
    connected_here = not ray.is_initialized()
    if connected_here:
        from shipyard.training.ray_fit import _connect

        _connect(ray, address)
    stop = threading.Event()
    previous = {number: signal.signal(number, lambda *_: stop.set()) for number in _STOP_SIGNALS}
    try:
        # Where Serve already runs, its proxy keeps the address it has (Ray warns): one cluster, one port.
        serve.start(http_options={"host": host, "port": port})
        serve.run(_application(serve, config, replicas), name=APP_NAME, route_prefix="/", blocking=False)
        log.info("%d replica(s) on Ray answer on http://%s:%d", replicas, host, port)
        while not stop.wait(1.0):
            pass
        log.info("stopping: every replica drains its requests and writes its prediction log")
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        _stop(ray, serve, connected_here=connected_here)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _import_serve() -> tuple[Any, Any]:
    try:
        import ray
        from ray import serve
    except ImportError:
        raise MissingDependency("ray[serve]", "ray", "serving on Ray ('--engine ray')") from None
    return ray, serve


def _application(serve: Any, config: ServeConfig, replicas: int) -> Any:
    """The deployment, bound: ``replicas`` copies of shipyard's app, each built in its replica's process."""
    ingress = serve.ingress(_app_builder(config))()
    deployment = serve.deployment(
        ingress,
        name="server",
        num_replicas=replicas,
        max_ongoing_requests=MAX_ONGOING_REQUESTS,
        graceful_shutdown_timeout_s=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return deployment.bind()


def _app_builder(config: ServeConfig) -> Callable[[], Starlette]:
    """A function that Ray calls in each replica to build its app (Ray ships it with ``config`` inside)."""

    def build_app() -> Starlette:
        from shipyard.server.app import create_app

        return create_app(config)

    return build_app


def _stop(ray: Any, serve: Any, *, connected_here: bool) -> None:
    """Delete the application: each replica shuts down through its lifespan (drain, write the log). Then
    leave Ray if this process joined it: a local Ray started here stops with everything on it (Serve's
    proxy too); a cluster this process only attached to keeps Serve running for its other applications."""
    try:
        serve.delete(APP_NAME)
    except Exception:  # Serve never came up (a failed start): nothing to delete, and the start's error counts
        log.exception("deleting the Ray Serve application %r failed", APP_NAME)
    finally:
        if connected_here:
            ray.shutdown()
