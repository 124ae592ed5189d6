"""A registry on the other side of HTTP: ``RemoteRegistry`` talks to a ``shipyard server`` and hands back
the same records the local ``Registry`` does, so a laptop or a CI job needs a token, not a database
password. ``RemoteOperations`` does the same for rollouts, alerts and retraining runs. ``open_remote()``
reads ``SHIPYARD_URL`` and ``SHIPYARD_TOKEN``."""

from shipyard.client.operations import RemoteOperations
from shipyard.client.remote import RemoteRegistry, open_remote

__all__ = ["RemoteOperations", "RemoteRegistry", "open_remote"]
