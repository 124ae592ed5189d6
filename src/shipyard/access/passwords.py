"""Password hashing with scrypt: a random salt per user, the cost parameters stored beside the hash.

Stored as ``scrypt$<n>$<r>$<p>$<salt>$<hash>`` (salt and hash in URL-safe base64), so raising the cost
later leaves every stored hash readable. Checks compare in constant time, and a check for a user with no
hash at all costs the same scrypt run, so the answer's timing does not tell which users exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from shipyard.errors import InvalidInput

#: 2**14 rounds, 8-byte blocks: 16 MiB of memory and tens of milliseconds per check.
COST = (2**14, 8, 1)
MIN_LENGTH = 8
MAX_LENGTH = 1024
_SALT_BYTES = 16
_HASH_BYTES = 32
#: A hash of a password nobody knows, checked against when the user does not exist (equal timing).
_DECOY = f"scrypt${COST[0]}${COST[1]}${COST[2]}${'A' * 22}${'A' * 43}"


def check_password_strength(password: str) -> None:
    """Refuse a password too short to resist guessing, or too long to hash quickly."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"a password has at least {MIN_LENGTH} characters; this one has {len(password)}")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"a password has at most {MAX_LENGTH} characters; this one has {len(password)}")


def hash_password(password: str) -> str:
    """The stored form of ``password``: scrypt with a fresh random salt and the current cost."""
    n, r, p = COST
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, n, r, p)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches the stored hash; with no hash (unknown user, token-only user) the
    same work is done against a decoy and the answer is False."""
    try:
        scheme, n, r, p, salt, expected = (stored or _DECOY).split("$")
        if scheme != "scrypt":
            return False
        digest = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
        return hmac.compare_digest(digest, _unb64(expected)) and stored is not None
    except ValueError:  # a damaged stored hash matches nothing
        return False


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r, dklen=_HASH_BYTES
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
