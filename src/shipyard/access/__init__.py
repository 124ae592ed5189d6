"""Who may use the management API and the dashboard: users with a role, API tokens, dashboard sessions.

``AccessService`` manages users and credentials and turns a token or a session cookie into a
``Principal``; ``require`` checks a principal's role before an action. The HTTP layer decides which action
needs which role (viewer reads; operator also rolls back, silences, pauses; admin also promotes,
registers, moves aliases, manages users and tokens). See docs/access.md.
"""

from shipyard.access.roles import Principal, Role, require
from shipyard.access.service import (
    AccessService,
    IssuedToken,
    SessionGrant,
    TokenInfo,
    User,
    check_csrf,
)

__all__ = [
    "AccessService",
    "IssuedToken",
    "Principal",
    "Role",
    "SessionGrant",
    "TokenInfo",
    "User",
    "check_csrf",
    "require",
]
