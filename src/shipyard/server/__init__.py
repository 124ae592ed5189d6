"""The HTTP interface: the inference server's ASGI app and ``shipyard.serve``, which runs it.

An interface layer over the services: routes decode with a protocol codec, call the serving engine (and
the monitoring and alerts services for feedback and metrics), and encode; one handler turns every failure
into its protocol's response. ``create_app`` builds the app of one worker process; ``serve`` lays out the
processes (workers, monitoring runner, scheduler) and runs them.

Names are imported on first use: the supervisor process needs the launcher only, never the app, so it
loads neither Starlette nor the serving engine; each worker imports the app by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard._lazy_exports import lazy_exports

if TYPE_CHECKING:
    from shipyard.server.app import create_app
    from shipyard.server.config import ServeConfig
    from shipyard.server.launcher import ServeOptions, ServerPlan, plan_server, run_server, serve

__all__ = ["ServeConfig", "ServeOptions", "ServerPlan", "create_app", "plan_server", "run_server", "serve"]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "shipyard.server.app": ("create_app",),
            "shipyard.server.config": ("ServeConfig",),
            "shipyard.server.launcher": ("ServeOptions", "ServerPlan", "plan_server", "run_server", "serve"),
        },
    )
