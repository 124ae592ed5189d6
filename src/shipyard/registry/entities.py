"""What the registry hands back: plain, immutable records of models, versions, aliases and audit events.

They are defined beside the repositories that read them (``shipyard.store``), so the row-to-record code
exists once; this module is where the registry's users import them from.
"""

from shipyard.store.aliases import AliasChange
from shipyard.store.audit import AuditEvent
from shipyard.store.models import ModelVersion, RegisteredModel

__all__ = ["AliasChange", "AuditEvent", "ModelVersion", "RegisteredModel"]
