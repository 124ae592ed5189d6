"""API token and session secrets: how they are made, read back, and reduced to what is stored.

A token's secret is ``shy_<id>_<random>``: the public id finds the stored row without a search, the random
part (32 bytes from ``secrets``) is what makes it a credential. Only the SHA-256 of a secret is stored; a
secret with 256 random bits needs no slow hash, since nobody can guess one to test against a leaked table.
A session's CSRF token is derived from the session's secret (an HMAC), so it is never stored either.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from shipyard.errors import Unauthenticated

TOKEN_PREFIX = "shy_"
_ID_BYTES = 6  # 12 hex characters: short to read in a list, ample for the tokens one workspace holds
_SECRET_BYTES = 32
_CSRF_LABEL = b"shipyard csrf token"


def new_token_secret() -> tuple[str, str]:
    """A fresh ``(public id, secret)`` pair for an API token."""
    token_id = secrets.token_hex(_ID_BYTES)
    return token_id, f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"


def token_id_of(secret: str) -> str:
    """The public id inside a token's secret; Unauthenticated when ``secret`` is not shaped like one."""
    if secret.startswith(TOKEN_PREFIX):
        token_id, separator, rest = secret[len(TOKEN_PREFIX) :].partition("_")
        if separator and rest and len(token_id) == 2 * _ID_BYTES and _is_hex(token_id):
            return token_id
    raise Unauthenticated(
        f"the credential is not a shipyard API token (they look like {TOKEN_PREFIX}<id>_<secret>); "
        "create one with 'shipyard tokens create --user NAME'"
    )


def new_session_secret() -> str:
    return secrets.token_urlsafe(_SECRET_BYTES)


def sha256(secret: str) -> str:
    """What is stored of a token's or a session's secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def same_hash(secret: str, stored_sha256: str) -> bool:
    """Whether ``secret`` hashes to the stored hash, compared in constant time."""
    return hmac.compare_digest(sha256(secret), stored_sha256)


def csrf_token_of(session_secret: str) -> str:
    """The CSRF token of a session: the page's forms carry it, and only the session's holder can know it."""
    digest = hmac.new(session_secret.encode("utf-8"), _CSRF_LABEL, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def same_csrf_token(session_secret: str, token: str) -> bool:
    """Whether ``token`` is the session's CSRF token, compared in constant time."""
    return hmac.compare_digest(csrf_token_of(session_secret).encode(), token.encode())


def _is_hex(text: str) -> bool:
    return all(ch in "0123456789abcdef" for ch in text)
