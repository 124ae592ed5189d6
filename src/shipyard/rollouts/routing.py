"""Which arm answers a request while a rollout runs: pure functions the serving engine calls per request.

A :class:`Split` is everything a server needs to route one model during a rollout: the stable and candidate
versions, the share of live traffic the candidate answers, whether every request is mirrored to the
candidate (shadow), and the routing key, if any. The engine asks :func:`choose_arm` for every request:

* with a routing key (``header:X-Customer-Id`` or ``column:customer_id``), the key's value is hashed with
  the rollout's id, so one customer meets the same arm on every request for the whole rollout (sticky), and
  two rollouts shuffle customers independently of each other;
* without one (or when the request carries no value for it), a draw from the caller's random number
  generator decides: weighted random.

Raising ``candidate_share`` from one step to the next only moves keys from stable to canary, never back: a
key goes to canary when its hash, read as a number in [0, 1), is below the share, so every key below 5% is
below 25% too. A customer who met the candidate keeps meeting it until the rollout ends or aborts.

Routing happens per request, not per row: every row of a request goes to the one arm its key chose (the
column key is read from the request's first row), so a request is answered by one version and logged with
one arm. This is core code: no database, no HTTP, no files.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.rollouts.plan import RoutingKey

Arm = Literal["stable", "canary"]
_SPLIT_KEYS = ("rollout_id", "stable", "candidate", "candidate_share", "shadow", "key")
#: Hashes are 64-bit numbers; a key goes to canary when its hash is below share × 2**64.
_HASH_RANGE = 1 << 64


@dataclass(frozen=True)
class Split:
    """How one model's live traffic is divided between its stable version and a candidate.

    ``candidate_share`` is the share of live traffic the candidate answers (0.0 to 1.0); ``shadow`` mirrors
    every request to the candidate as well (its answers are logged, never returned); ``key`` makes routing
    sticky (see :func:`choose_arm`). Equal splits route every key the same way.
    """

    rollout_id: int | str
    stable: int
    candidate: int
    candidate_share: float
    shadow: bool = False
    key: RoutingKey | None = None
    # Prepared once per split so choose_arm does one hash and one comparison per request.
    _hasher: Any = field(init=False, repr=False, compare=False)
    _cut: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.rollout_id, bool) or not isinstance(self.rollout_id, int | str):
            raise InvalidInput(f"a split's rollout_id is the rollout's id, got {self.rollout_id!r}")
        share = self.candidate_share
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0.0 <= share <= 1.0:
            raise InvalidInput(
                f"rollout {self.rollout_id}: candidate_share is the share of live traffic the candidate "
                f"answers, from 0.0 to 1.0; got {share!r}"
            )
        if self.stable == self.candidate:
            raise InvalidInput(
                f"rollout {self.rollout_id}: the candidate is version {self.candidate}, which is the stable "
                "version too; a rollout moves traffic to another version"
            )
        object.__setattr__(self, "candidate_share", float(share))
        object.__setattr__(self, "_hasher", hashlib.blake2b(f"{self.rollout_id}:".encode(), digest_size=8))
        # A float times a power of two is exact: share 1.0 gives 2**64, above every hash.
        object.__setattr__(self, "_cut", int(float(share) * _HASH_RANGE))

    def __reduce__(self) -> tuple[Any, ...]:
        # The prepared hash object cannot be pickled; a copy rebuilds it from the fields.
        return (
            Split,
            (self.rollout_id, self.stable, self.candidate, self.candidate_share, self.shadow, self.key),
        )

    def version(self, arm: str) -> int:
        """The version an arm names: ``stable`` the stable one; ``canary`` and ``shadow`` the candidate."""
        return self.stable if arm == "stable" else self.candidate

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict that :meth:`from_dict` turns back into an equal split."""
        return {
            "rollout_id": self.rollout_id,
            "stable": self.stable,
            "candidate": self.candidate,
            "candidate_share": self.candidate_share,
            "shadow": self.shadow,
            "key": None if self.key is None else f"{self.key.source}:{self.key.name}",
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Split:
        unknown = sorted(set(data) - set(_SPLIT_KEYS))
        missing = [name for name in _SPLIT_KEYS[:4] if name not in data]
        if unknown or missing:
            raise InvalidInput(
                f"a split has the keys {', '.join(_SPLIT_KEYS)}"
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
                + (f"; missing: {', '.join(missing)}" if missing else "")
            )
        key = data.get("key")
        return cls(
            rollout_id=data["rollout_id"],
            stable=int(data["stable"]),
            candidate=int(data["candidate"]),
            candidate_share=data["candidate_share"],
            shadow=bool(data.get("shadow", False)),
            key=None if key is None else key if isinstance(key, RoutingKey) else RoutingKey.parse(str(key)),
        )


def choose_arm(split: Split, key_value: str | None, draw: float) -> Arm:
    """The arm that answers one live request: ``"canary"`` (the candidate) or ``"stable"``.

    With a key value, the answer depends only on the rollout and the value (sticky): blake2b of
    ``"<rollout_id>:<value>"``, read as a number in [0, 1), below ``candidate_share`` goes to canary — so
    raising the share only ever moves keys from stable to canary. Without one (no routing key, or the
    request carries no value for it), ``draw`` — a number in [0, 1) from the caller's random number
    generator — decides: below the share, canary. Share 0 never routes to canary, share 1 always does.
    Shadow copies are not an arm chosen here: with ``split.shadow`` the engine mirrors every request.
    """
    if key_value is None:
        return "canary" if draw < split.candidate_share else "stable"
    hasher = split._hasher.copy()
    hasher.update(key_value.encode("utf-8", "surrogatepass"))
    return "canary" if int.from_bytes(hasher.digest(), "big") < split._cut else "stable"


def key_value(
    key: RoutingKey | None,
    headers: Mapping[str, str] | None = None,
    frame: pd.DataFrame | None = None,
) -> str | None:
    """The routing key's value for one request, as text; None when the request has none.

    ``header:<Name>`` reads the header (names compared without regard to case, as HTTP does);
    ``column:<name>`` reads the column in the request's *first* row: a request is routed as a whole, so all
    its rows go to one arm. A missing header, an empty one, a missing column, an empty frame or a null value
    all give None, and :func:`choose_arm` then routes the request by weighted random, as without a key.
    Whole numbers read as integers (``7.0`` and ``7`` are the same customer), so a value routes the same
    whether it came as JSON integer or float.
    """
    if key is None:
        return None
    if key.source == "header":
        return _header(headers or {}, key.name)
    if frame is None or key.name not in frame.columns or len(frame) == 0:
        return None
    return _text(frame[key.name].iat[0])


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    if value is None:  # a plain dict with the name in another case
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return value or None


def _text(value: object) -> str | None:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    text = str(value)
    return text or None
