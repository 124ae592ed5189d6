"""One error hierarchy for the whole of shipyard.

Every failure a user can meet is a ``ShipyardError``. Each class carries its two outcomes side by side:
``exit_code`` for the CLI (with a one-line message) and ``http_status`` for the HTTP server; a subclass that
sets neither inherits its parent's, so the answer for any error is found along its class's MRO, the way
Starlette looks up exception handlers. Catch ``ShipyardError`` for "anything shipyard refused", or a
subclass for the case you care about. Messages say what happened, to what, and what to do; they never echo
a whole payload.

    ShipyardError                      1   500
    ├── InvalidInput                   2   400
    │   ├── ContractViolation          2   422  rows break a data contract
    │   ├── PayloadTooLarge            2   413
    │   ├── UnsupportedMediaType       2   415
    │   └── UnreadableInput            2   400  a damaged batch input file
    ├── NotFound                       3   404
    ├── Conflict                       4   409
    ├── IntegrityError                 5   500
    ├── Unauthorized                   6   403
    │   ├── Unauthenticated            6   401  no, unknown, expired or revoked credentials
    │   └── Forbidden                  6   403  the user's role is too low for the action
    ├── ConfigurationError             7   500
    │   └── MissingDependency          7   500
    ├── Unavailable                    9   503
    │   ├── Overloaded                 9   503  a full queue (with retry_after)
    │   └── DeadlineExceeded           9   504
    ├── ModelFailed                   10   500  the model raised while predicting
    ├── GateFailed                     1   409  a gate refused the version
    ├── GateError                      2   400  a gate that cannot run
    ├── BatchInterrupted               1   500
    ├── BatchWorkersFailed             1   500
    └── BatchPolicyFailed              1   500
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


class ShipyardError(Exception):
    """Base class of every error shipyard raises on purpose."""

    exit_code = 1
    http_status = 500


class InvalidInput(ShipyardError, ValueError):
    """The caller passed something shipyard cannot accept (a bad name, a file that is not a model, …)."""

    exit_code = 2
    http_status = 400


class ContractViolation(InvalidInput):
    """Rows broke a model's data contract: a request is refused (422), a training set rejected.

    ``problems`` lists what broke, one ``shipyard.contracts.Problem`` (row, column, problem code, value as
    text) each; ``result`` holds the whole ``ValidationResult`` when a contract's ``validate`` raised it
    (its ``problems`` table has every problem, its ``rejected`` frame the failing rows).
    """

    http_status = 422

    def __init__(self, message: str, problems: Sequence[Any] | None = None, *, result: Any = None) -> None:
        super().__init__(message)
        self.result = result
        self._problems = list(problems) if problems is not None else None

    @property
    def problems(self) -> list[Any]:
        if self._problems is None:  # from the result on first use: a big rejection is not listed twice
            self._problems = self.result.problem_list() if self.result is not None else []
        return self._problems

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt with its problems and result, so the error survives pickling (from a batch worker process).
        return (_contract_violation, (str(self), self._problems, self.result))


def _contract_violation(message: str, problems: list[Any] | None, result: Any) -> ContractViolation:
    return ContractViolation(message, problems, result=result)


class PayloadTooLarge(InvalidInput):
    """A request body is over the server's limit (``--max-body-mb``)."""

    http_status = 413


class UnsupportedMediaType(InvalidInput):
    """A request's Content-Type (or Content-Encoding) is one the protocol does not accept."""

    http_status = 415


class UnreadableInput(InvalidInput):
    """An input file is damaged or not what its suffix says; the message names it and says where."""


class NotFound(ShipyardError, LookupError):
    """A model, version, alias or artifact does not exist."""

    exit_code = 3
    http_status = 404


class Conflict(ShipyardError):
    """The request contradicts the current state (e.g. the name exists already)."""

    exit_code = 4
    http_status = 409


class IntegrityError(ShipyardError):
    """Stored bytes differ from what the registry recorded: the artifact was corrupted or tampered with."""

    exit_code = 5


class Unauthorized(ShipyardError):
    """The action needs a trust flag or a permission the caller did not give."""

    exit_code = 6
    http_status = 403


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


class Unavailable(ShipyardError):
    """The server cannot take this request now; the same request may succeed later.

    ``retry_after`` (seconds), when known, becomes the response's ``Retry-After`` header.
    """

    exit_code = 9
    http_status = 503

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Overloaded(Unavailable):
    """The queue is full: the server sheds this request rather than letting every request slow down.

    ``retry_after`` (seconds) becomes the response's ``Retry-After`` header.
    """

    retry_after: float

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, retry_after)


class DeadlineExceeded(Unavailable):
    """The request waited past its deadline before the model could run it."""

    http_status = 504


class ModelFailed(ShipyardError):
    """The model raised while predicting; ``error_id`` ties the 500 response to the server log."""

    exit_code = 10

    def __init__(self, message: str, error_id: str) -> None:
        super().__init__(message)
        self.error_id = error_id


class GateFailed(ShipyardError):
    """A promotion gate refused a version: at least one check failed. ``report`` holds the GateReport."""

    exit_code = 1
    http_status = 409

    def __init__(self, message: str, report: object = None) -> None:
        super().__init__(message)
        self.report = report


class GateError(ShipyardError):
    """A promotion gate could not run at all (no evaluation data, a policy naming unknown things, …)."""

    exit_code = 2
    http_status = 400


class BatchInterrupted(ShipyardError):
    """A batch run stopped before the end (a full disk, an unwritable folder); resume it with its run id."""


class BatchWorkersFailed(ShipyardError):
    """A batch worker process died; the run can be resumed with its run id."""


class BatchPolicyFailed(ShipyardError):
    """A batch job ran, but its declared policy (reject share, unreadable files) says it failed."""


def too_many_rows(rows: int, max_queue_rows: int) -> PayloadTooLarge:
    """A request of ``rows`` rows refused because it could never fit the queue, with the two ways out."""
    return PayloadTooLarge(
        f"the request has {rows:,} rows; this server queues at most {max_queue_rows:,} rows per model "
        f"(--max-queue-rows): split it into requests of at most {max_queue_rows:,} rows, or start the "
        "server with a larger --max-queue-rows"
    )


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


def refuse_unknown_keys(data: Mapping[Any, Any], known: Sequence[str], where: str) -> None:
    """InvalidInput for the first key of a settings table (TOML) that is not ``known``, naming the closest."""
    for key in data:
        if key not in known:
            raise InvalidInput(f"{where} has an unknown key {str(key)[:60]!r}{closest_hint(str(key), known)}")


def closest_hint(name: str, known: Sequence[str]) -> str:
    """'; did you mean X?' for a mistyped name, or the known names when none is close."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(known)})"


class Unauthenticated(Unauthorized):
    """No credentials, or ones shipyard does not accept (unknown, expired, revoked, a disabled user); the
    message says which and how to get valid ones."""

    http_status = 401


class Forbidden(Unauthorized):
    """The caller is known but its role is too low for the action; the message names the role needed."""

    http_status = 403
