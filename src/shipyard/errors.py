"""One error hierarchy for the whole of shipyard.

Every failure a user can meet is a ``ShipyardError``. Interfaces map each class to one outcome: the CLI to
an exit code and a one-line message, the HTTP server to a status code. Catch ``ShipyardError`` for
"anything shipyard refused", or a subclass for the case you care about. Messages say what happened, to
what, and what to do; they never echo a whole payload.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ShipyardError(Exception):
    """Base class of every error shipyard raises on purpose."""

    exit_code = 1


class InvalidInput(ShipyardError, ValueError):
    """The caller passed something shipyard cannot accept (a bad name, a file that is not a model, …)."""

    exit_code = 2


class NotFound(ShipyardError, LookupError):
    """A model, version, alias or artifact does not exist."""

    exit_code = 3


class Conflict(ShipyardError):
    """The request contradicts the current state (e.g. the name exists already)."""

    exit_code = 4


class IntegrityError(ShipyardError):
    """Stored bytes differ from what the registry recorded: the artifact was corrupted or tampered with."""

    exit_code = 5


class Unauthorized(ShipyardError):
    """The action needs a trust flag or a permission the caller did not give."""

    exit_code = 6


class ConfigurationError(ShipyardError):
    """The workspace, a setting or the environment is wrong: a bad URL, a missing extra, a newer database."""

    exit_code = 7


class MissingDependency(ConfigurationError, ImportError):
    """An optional package is needed; the message names the extra that installs it."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the '{package}' package; install it with: pip install 'shipyard[{extra}]'"
        )
        self.package = package
        self.extra = extra


class GateFailed(ShipyardError):
    """A promotion gate refused a version: at least one check failed. ``report`` holds the GateReport."""

    exit_code = 1

    def __init__(self, message: str, report: object = None) -> None:
        super().__init__(message)
        self.report = report


class GateError(ShipyardError):
    """A promotion gate could not run at all (no evaluation data, a policy naming unknown things, …)."""

    exit_code = 2


def not_found(
    kind: str,
    name: str,
    *,
    within: str = "",
    candidates: Iterable[str] = (),
    list_command: str | None = None,
) -> NotFound:
    """Build a NotFound naming what was missing and the closest existing names, if any; when there are too
    many to list, ``list_command`` tells the user how to see them."""
    where = f" in {within}" if within else ""
    known = sorted(set(candidates))
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    if close:
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?"
    elif known and len(known) <= 10:
        hint = f" (existing: {', '.join(known)})"
    elif known:
        hint = f" ({len(known)} exist" + (f"; list them with '{list_command}')" if list_command else ")")
    else:
        hint = ""
    return NotFound(f"{kind} {name!r} not found{where}{hint}")
