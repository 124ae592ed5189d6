"""Database URLs as they may be written down: a team's settings file never holds the password.

``shipyard.toml`` is meant to be committed (``shipyard init`` writes a ``.gitignore`` that keeps it), so a
database password does not belong in it: PostgreSQL's client reads it from ``$PGPASSWORD`` or
``~/.pgpass``, or the whole URL comes from ``$SHIPYARD_REGISTRY_URL`` where shipyard runs.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from shipyard.errors import ConfigurationError


def without_password(url: str) -> tuple[str, bool]:
    """``url`` with its password removed, and whether it had one."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        # The text is not echoed: it may hold a password.
        raise ConfigurationError(
            f"the registry URL given is not a database URL ({exc}); write it as "
            "postgresql+psycopg://user@host:5432/database or sqlite:///path/registry.db"
        ) from None
    if parsed.password is None:
        return url, False
    bare = URL.create(
        parsed.drivername, parsed.username, None, parsed.host, parsed.port, parsed.database, parsed.query
    )
    return bare.render_as_string(hide_password=False), True
