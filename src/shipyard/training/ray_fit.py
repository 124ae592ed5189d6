"""Training on Ray: the fit of a training run (cross-validation, final fit, hold-out predictions) as one
task of a Ray cluster.

The driver still reads the data, checks the spec and registers the result; only the pure computation and
its inputs travel, through Ray's object store, and the fitted result comes back the same way. So a Ray
node needs shipyard and the estimator's library installed, and no access to the metadata database or the
artifact store. With no address, a local Ray is started for the run and stopped after (as the batch Ray
engine does); a process already attached to Ray uses that one. An error raised inside the task is raised
again here as itself, so a bad estimator parameter reads the same on Ray as on this machine.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any, TypeVar

from shipyard.errors import ConfigurationError, MissingDependency, Unavailable

T = TypeVar("T")
#: How long to wait for the cluster's port to answer before calling it unreachable.
CONNECT_TIMEOUT_S = 5.0
#: Addresses that name no host: a local Ray started here, or the one already running on this machine.
_LOCAL_ADDRESSES = {"", "local", "auto"}


def run_on_ray(function: Callable[..., T], *args: Any, address: str = "") -> tuple[T, dict[str, Any]]:
    """``function(*args)`` as one Ray task; its result and where it ran (engine, host, pid, node, task)."""
    try:
        import ray
    except ImportError:
        raise MissingDependency("ray", "ray", "training on Ray ('--on ray')") from None
    started_here = not ray.is_initialized()
    if started_here:
        _connect(ray, address)
    try:
        refs = [ray.put(argument) for argument in args]  # the spec, plan and rows, by the object store
        task = ray.remote(num_cpus=1)(_call_and_say_where)
        try:
            result, ran_on = ray.get(task.remote(function, *refs))
        except ray.exceptions.RayTaskError as error:
            raise _cause(error) from None
    finally:
        if started_here:
            ray.shutdown()
    return result, {**ran_on, "address": address or "a local Ray started for this run"}


def _call_and_say_where(function: Callable[..., T], *args: Any) -> tuple[T, dict[str, Any]]:
    """Runs on the Ray worker: the work, and the worker's host, process, node and task."""
    import ray

    context = ray.get_runtime_context()
    where = {
        "engine": "ray",
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "node": context.get_node_id(),
        "task": context.get_task_id(),
    }
    return function(*args), where


def _connect(ray: Any, address: str) -> None:
    """Attach to the cluster at ``address`` (or start a local Ray); Unavailable when it cannot be reached."""
    if address not in _LOCAL_ADDRESSES:
        _reachable(address)
    try:
        ray.init(
            address=address or None,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            ignore_reinit_error=True,
        )
    except ValueError as error:
        if "ray[client]" in str(error):  # a ray:// address, and Ray Client's grpc is not installed
            raise ConfigurationError(
                f"the Ray address {address!r} needs Ray Client; install it with: pip install 'ray[client]'"
            ) from None
        raise
    except (ConnectionError, TimeoutError, RuntimeError) as error:
        raise Unavailable(
            f"cannot reach the Ray cluster at {address or 'this machine'!r}: {error}; "
            "check the address and that the cluster is up"
        ) from None


def _reachable(address: str) -> None:
    """Fail in seconds on a host or port that does not answer: Ray itself retries for minutes."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ConfigurationError(
            f"the Ray address {address!r} is not host:port or ray://host:port; "
            "give the head node's address, e.g. ray://head:10001"
        )
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as error:
        raise Unavailable(
            f"cannot reach the Ray cluster at {address!r}: {error.strerror or error}; "
            "check the address and that the cluster is up"
        ) from None


def _cause(error: Any) -> BaseException:
    """The exception the task raised, as itself; the wrapped Ray error when it did not travel back."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        return cause
    return error.as_instanceof_cause()
