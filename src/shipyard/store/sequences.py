"""Named rows that hand out version numbers: models and datasets share this race-free pattern.

A named row (a model, a dataset) carries ``last_version``. Taking the next number is an UPDATE … RETURNING
on that row inside the caller's write transaction, so the row lock (PostgreSQL) or the database write lock
(SQLite, BEGIN IMMEDIATE) makes concurrent writers queue: two processes never get the same number.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shipyard.store.schema import Base

Named = TypeVar("Named", bound=Base)


def select_named(session: Session, row_class: type[Named], name: str, *, lock: bool = False) -> Named | None:
    """The row called ``name``, optionally under its write lock."""
    query = select(row_class).where(row_class.name == name)  # type: ignore[attr-defined]
    if lock:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def lock_or_create_named(
    session: Session, row_class: type[Named], name: str, values: dict[str, Any]
) -> tuple[Named, bool]:
    """Fetch the named row under its write lock, inserting it with ``values`` first if it does not exist.

    Uses INSERT … ON CONFLICT DO NOTHING, so two processes creating the same name at once both succeed and
    see one row. Returns the row and whether this call created it.
    """
    row = select_named(session, row_class, name, lock=True)
    if row is not None:
        return row, False
    insert = _insert_of(session.get_bind().dialect.name, row_class)
    result = session.execute(insert.values(name=name, last_version=0, **values).on_conflict_do_nothing())
    created = bool(getattr(result, "rowcount", 0))
    row = select_named(session, row_class, name, lock=True)
    assert row is not None
    return row, created


def _insert_of(dialect: str, row_class: type[Base]) -> Any:
    """The dialect's INSERT (it says ON CONFLICT), from the dialect module the database has loaded already."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(row_class)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(row_class)


def next_version(session: Session, row_class: type[Named], row_id: int, **also_set: Any) -> int:
    """Increment and return the row's ``last_version`` (call inside a write transaction)."""
    table: Any = row_class
    number = session.execute(
        update(row_class)
        .where(table.id == row_id)
        .values(last_version=table.last_version + 1, **also_set)
        .returning(table.last_version)
    ).scalar_one()
    return int(number)
