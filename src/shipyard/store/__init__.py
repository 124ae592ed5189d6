"""Adapters to storage: the metadata database and the content-addressed artifact store.

Services talk to these classes only; which database or object store sits behind a URL is decided here.
"""

from shipyard.store.artifacts import ArtifactInfo, ArtifactStore
from shipyard.store.database import Database

__all__ = ["ArtifactInfo", "ArtifactStore", "Database"]
