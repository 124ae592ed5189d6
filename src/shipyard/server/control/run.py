"""``shipyard server``: the control plane on uvicorn, with auth decided by where it listens.

Auth is on by default as soon as the server binds anything but loopback: a management API reachable from
the network without a login would let anyone move production. On loopback it is off unless asked for, as
the CLI on the same machine needs no login either; turning it off on a network address is refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from shipyard.access import AccessService
from shipyard.config import Settings
from shipyard.errors import ConfigurationError
from shipyard.server.control.limits import DEFAULT_MAX_BODY_BYTES


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def decide_auth(host: str, auth: bool | None) -> bool:
    """Auth for a server on ``host``: on for a network address (refusing to turn it off), else as asked."""
    if is_loopback(host):
        return bool(auth)
    if auth is False:
        raise ConfigurationError(
            f"refusing to serve the control plane on {host} without auth: anyone who can reach it could "
            "move production; drop --no-auth (and create users with 'shipyard users add'), or bind 127.0.0.1"
        )
    return True


def run_control_server(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 5000,
    auth: bool | None = None,
    max_upload_mb: int = DEFAULT_MAX_BODY_BYTES // (1024 * 1024),
    log_level: str = "info",
    announce: Callable[[str], None] = print,
) -> None:
    """Serve the control plane of ``settings``' workspace until interrupted."""
    import uvicorn

    from shipyard.server.control.app import create_control_app

    protected = decide_auth(host, auth)
    app = create_control_app(settings, auth=protected, max_body_bytes=max_upload_mb * 1024 * 1024)
    announce(
        f"shipyard control plane for {settings.home} on http://{host}:{port} "
        + ("(auth on: every call needs a token or a session)" if protected else "(auth off: loopback only)")
    )
    if protected and not AccessService(app.state.registry.db, settings.actor).list_users():
        announce(
            "no user can sign in yet: create one with 'shipyard users add NAME --role admin --password-stdin'"
        )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=10,
    )
