"""Roles and the principal a request acts as: who it is, what role it holds, how it proved it.

Roles are ordered: each one can do everything the one below it can. ``require`` is the one check the
management API and the dashboard make before an action; which action needs which role is theirs to say.
"""

from __future__ import annotations

import difflib
import enum
from dataclasses import dataclass

from shipyard.errors import Forbidden, InvalidInput


class Role(enum.IntEnum):
    """viewer reads; operator also acts on running things (roll back, silence, pause); admin also changes
    what runs (promote, register, aliases) and who may do what (users, tokens)."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        """The name users type and read: ``viewer``, ``operator``, ``admin``."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        """The role called ``text`` (any case); InvalidInput naming the roles and the closest one."""
        labels = [role.label for role in cls]
        cleaned = str(text).strip().lower()
        if cleaned in labels:
            return cls[cleaned.upper()]
        close = difflib.get_close_matches(cleaned, labels, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InvalidInput(f"role {str(text)[:40]!r} is not one of {', '.join(labels)}{hint}")


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a user, the role it holds now, and how it proved it (``"token"``,
    ``"session"``, or ``"local"`` for a command run on the workspace's own machine)."""

    user: str
    role: Role
    via: str
    token_id: str | None = None

    @classmethod
    def local(cls, user: str) -> Principal:
        """Someone at the workspace's own machine: they can open its database anyway, so they are admin."""
        return cls(user=user, role=Role.ADMIN, via="local")

    def can(self, role: Role) -> bool:
        """Whether this principal holds ``role`` or a higher one."""
        return self.role >= role


def require(principal: Principal, role: Role, action: str) -> None:
    """Refuse ``action`` unless ``principal`` holds ``role`` (or higher): Forbidden naming both roles."""
    if principal.can(role):
        return
    raise Forbidden(
        f"{action} needs the {role.label} role; {principal.user} is {_article(principal.role)} "
        f"{principal.role.label}: ask an admin to run 'shipyard users role {principal.user} {role.label}'"
    )


def _article(role: Role) -> str:
    return "an" if role.label[0] in "aeiou" else "a"
