"""The HTTP interface: the inference server's ASGI app and ``shipyard.serve``, which runs it.

An interface layer over the services: routes decode with a protocol codec, call the serving engine (and
the monitoring and alerts services for feedback and metrics), and encode; one handler turns every failure
into its protocol's response. ``create_app`` builds the app of one worker process; ``serve`` lays out the
processes (workers, monitoring runner, scheduler) and runs them.
"""

from shipyard.server.app import create_app
from shipyard.server.config import ServeConfig
from shipyard.server.launcher import ServeOptions, ServerPlan, plan_server, run_server, serve

__all__ = ["ServeConfig", "ServeOptions", "ServerPlan", "create_app", "plan_server", "run_server", "serve"]
