"""A user's own query over their own database, for fresh training data: PostgreSQL through SQLAlchemy,
DuckDB through its own driver (the ``query`` extra). The query names the window as ``:start`` and ``:end``
on both, bound as parameters, never pasted into the text."""

from __future__ import annotations

import re
from datetime import datetime

import pandas as pd
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from shipyard.errors import InvalidInput, MissingDependency, Unavailable

_DUCKDB_URL = "duckdb://"
_NAMED = re.compile(r"(?<![:\w]):(start|end)\b")


def read_query(url: str, query: str, start: datetime | None, end: datetime) -> pd.DataFrame:
    """The rows ``query`` returns from the database at ``url`` with ``:start``/``:end`` bound to the window
    (``start`` None: the beginning of time). Unavailable when the database cannot be reached, InvalidInput
    when the query fails there."""
    bounds = {"start": start or datetime(1970, 1, 1, tzinfo=end.tzinfo), "end": end}
    if url.startswith(_DUCKDB_URL):
        return _duckdb(url.removeprefix(_DUCKDB_URL).removeprefix("/"), query, bounds)
    engine = create_engine(url, pool_pre_ping=True)
    try:
        with engine.connect() as connection:
            result = connection.execute(text(query), bounds)
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    except SQLAlchemyError as error:
        detail = str(getattr(error, "orig", error)).strip().splitlines()[0][:300]
        where = engine.url.render_as_string()  # its password hidden
        if isinstance(error, OperationalError):
            raise Unavailable(f"the data source {where} is unreachable ({detail})") from None
        raise InvalidInput(f"the data query failed on {where}: {detail}") from None
    finally:
        engine.dispose()


def _duckdb(path: str, query: str, bounds: dict[str, datetime]) -> pd.DataFrame:
    try:
        import duckdb
    except ImportError as error:
        raise MissingDependency("duckdb", "query", "a DuckDB data source") from error
    try:
        connection = duckdb.connect(path, read_only=True)
    except duckdb.Error as error:
        raise Unavailable(f"the DuckDB database {path!r} cannot be opened ({error})") from None
    try:
        named = {key: value.replace(tzinfo=None) for key, value in bounds.items()}  # DuckDB's TIMESTAMP
        return connection.execute(_NAMED.sub(r"$\1", query), named).df()
    except duckdb.Error as error:
        raise InvalidInput(f"the data query failed on {path}: {str(error).splitlines()[0][:300]}") from None
    finally:
        connection.close()
