"""What every command module shares: the global options' state, the registry they open, option types.

With ``SHIPYARD_URL`` set, the CLI talks to that ``shipyard server`` instead of a workspace on this
machine: the commands that read or steer the registry and production (``models``, ``register``,
``promote``, ``rollback``, ``rollout``…) go through its API, as the user its ``SHIPYARD_TOKEN`` names;
every other command needs the workspace's database and artifacts at hand, and ``open_registry`` refuses
it with one message that says where to run it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from shipyard.errors import ConfigurationError

if TYPE_CHECKING:  # the registry loads SQLAlchemy: imported when a command opens it, not for --help
    from shipyard.client import RemoteOperations, RemoteRegistry
    from shipyard.registry import Registry

#: The environment variables that point the CLI at a server (read by ``shipyard.client`` too).
URL_VARIABLE = "SHIPYARD_URL"
TOKEN_VARIABLE = "SHIPYARD_TOKEN"
Client = TypeVar("Client")
Answer = TypeVar("Answer")


@dataclass
class CliState:
    home: Path | None = None
    debug: bool = False


state = CliState()

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ReasonOption = Annotated[str, typer.Option("--reason", "-r", help="Why; recorded in the audit trail.")]


def open_registry(*, changes: bool = False) -> Registry:
    """The registry of the workspace chosen by --home / $SHIPYARD_HOME / the nearest .shipyard.

    A command that ``changes`` the workspace names it first, on stderr: the nearest ``.shipyard`` may be in
    a parent folder, and a version registered in a workspace the user did not mean is a wrong turn that
    only shows later, as unexpected version numbers. With ``SHIPYARD_URL`` set it refuses: the command
    needs the workspace itself, which is where the server runs.
    """
    from shipyard.registry import Registry

    require_workspace()
    registry = Registry(home=state.home)
    if changes:
        sys.stderr.write(f"workspace: {registry.settings.home}\n")
    return registry


def require_workspace() -> None:
    """Refuse, when ``SHIPYARD_URL`` is set, a command that needs the workspace's database and artifacts
    at hand (train, serve, score, monitor run, data…): it does not go through a server."""
    url = server_url()
    if url is not None:
        raise ConfigurationError(
            f"{_command()} runs where the workspace's database and artifacts are, not through the server "
            f"at {URL_VARIABLE}={url}: unset {URL_VARIABLE} to use a workspace on this machine, or run it "
            "on the server's machine"
        )


def server_url() -> str | None:
    """The server ``SHIPYARD_URL`` names, or None to use a workspace; naming both is refused, as the CLI
    cannot tell which one the user meant."""
    url = os.environ.get(URL_VARIABLE, "").strip()
    if not url:
        return None
    if state.home is not None:
        raise ConfigurationError(
            f"both {URL_VARIABLE}={url} and a workspace (--home or SHIPYARD_HOME={state.home}) are set; "
            f"unset {URL_VARIABLE} to use the workspace, or drop --home/SHIPYARD_HOME to use the server"
        )
    return url


def remote(*, changes: bool = False) -> RemoteRegistry | None:
    """The registry of the server ``SHIPYARD_URL`` names (with ``SHIPYARD_TOKEN``), or None without one.
    A command that ``changes`` it names the server on stderr, as ``open_registry`` names the workspace."""
    if server_url() is None:  # the HTTP client is imported only for a server
        return None
    from shipyard.client import RemoteRegistry

    return _server_client(RemoteRegistry, changes)


def remote_operations(*, changes: bool = False) -> RemoteOperations | None:
    """Rollouts, alerts and retraining runs of the server ``SHIPYARD_URL`` names, or None without one."""
    if server_url() is None:
        return None
    from shipyard.client import RemoteOperations

    return _server_client(RemoteOperations, changes)


def _server_client(client: Callable[[str, str | None], Client], changes: bool) -> Client | None:
    url = server_url()
    if url is None:
        return None
    if changes:
        sys.stderr.write(f"server: {url}\n")
    return client(url, os.environ.get(TOKEN_VARIABLE) or None)


def server_or_workspace(
    on_server: Callable[[RemoteOperations], Answer],
    here: Callable[[Registry], Answer],
    *,
    changes: bool = False,
) -> Answer:
    """What the server answers (``on_server``) when ``SHIPYARD_URL`` is set, else what the workspace does
    (``here``): one command, both places, the same result."""
    server = remote_operations(changes=changes)
    if server is not None:
        with server:
            return on_server(server)
    with open_registry(changes=changes) as registry:
        return here(registry)


def open_registry_or_remote(*, changes: bool = False) -> Registry | RemoteRegistry:
    """The server's registry when ``SHIPYARD_URL`` is set, else the workspace's: for the commands whose
    calls both answer alike (``list_models``, ``resolve``, ``rollback``, ``audit``…)."""
    return remote(changes=changes) or open_registry(changes=changes)


def _command() -> str:
    """The command being run, as typed (``shipyard monitor run``), for the refusal's message."""
    try:  # typer carries its own copy of click; its context stack is where the running command is
        from typer._click.globals import get_current_context
    except ImportError:  # pragma: no cover - a typer that moved it: the message stays true without the name
        return "this command"
    context = get_current_context(silent=True)
    return f"'{context.command_path}'" if context is not None else "this command"
