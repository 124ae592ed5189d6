"""``shipyard server``: the control plane (management API, and the dashboard) of the current workspace."""

from __future__ import annotations

from typing import Annotated

import typer

from shipyard.cli.common import require_workspace, state


def server_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on.", min=1, max=65535)] = 5000,
    auth: Annotated[
        bool | None,
        typer.Option(
            "--auth/--no-auth",
            help="Require a token or a session (default: on unless the address is loopback; it cannot be "
            "turned off on a network address).",
        ),
    ] = None,
    max_upload_mb: Annotated[
        int,
        typer.Option("--max-upload-mb", help="The largest upload accepted, in MiB.", min=1),
    ] = 1024,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
) -> None:
    """Run the control plane: the management API over this workspace's registry, rollouts, monitors,
    alerts and audit, with users, roles and tokens."""
    from shipyard.config import load_settings
    from shipyard.server.control.run import run_control_server

    require_workspace()
    run_control_server(
        load_settings(state.home),
        host=host,
        port=port,
        auth=auth,
        max_upload_mb=max_upload_mb,
        log_level=log_level,
        announce=typer.echo,
    )
