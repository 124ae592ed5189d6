"""Schema compatibility: would clients that satisfy the old contract break against the new one?

Promotion gates call this with the current alias holder's contract (old) and the candidate's (new). A
change is breaking when a request that the old contract accepted could be rejected by the new one (a new
required column, a narrowed type, nulls no longer allowed, tighter bounds, a closed or smaller category
set, stricter extra-column policy), or when a column the old contract had disappears, since whoever
consumes the model's inputs downstream (logs, monitors, feature pipelines) expects it.
"""

from __future__ import annotations

from shipyard.contracts._columns import ColumnContract
from shipyard.contracts._contract import Contract

#: Types a value of the key type may be widened to without breaking clients.
_WIDENINGS = {
    "integer": {"integer", "float"},
    "float": {"float"},
    "boolean": {"boolean"},
    "category": {"category", "string"},
    "string": {"string"},
    "datetime": {"datetime"},
}


def breaking_changes(old: Contract, new: Contract) -> list[str]:
    """Every way ``new`` could reject or lose what ``old`` accepted, one sentence each (empty: compatible)."""
    problems: list[str] = []
    old_columns = {column.name: column for column in old.columns}
    new_columns = {column.name: column for column in new.columns}
    for name in old_columns.keys() - new_columns.keys():
        problems.append(f"column {name!r} was removed")
    for name, column in new_columns.items():
        if name not in old_columns:
            if column.required:
                problems.append(f"new required column {name!r}: current clients do not send it")
            continue
        problems.extend(_column_changes(old_columns[name], column))
    if old.extra_columns != "reject" and new.extra_columns == "reject":
        problems.append("extra columns are now rejected (they used to be accepted)")
    return sorted(problems)


def _column_changes(old: ColumnContract, new: ColumnContract) -> list[str]:
    name = repr(new.name)
    changes = []
    if new.type not in _WIDENINGS[old.type]:
        changes.append(f"column {name} narrowed from {old.type} to {new.type}")
    if old.nullable and not new.nullable:
        changes.append(f"column {name} no longer accepts nulls")
    if not old.required and new.required:
        changes.append(f"column {name} became required")
    if _tighter(old.minimum, new.minimum, lower=True):
        changes.append(f"column {name} minimum tightened from {old.minimum} to {new.minimum}")
    if _tighter(old.maximum, new.maximum, lower=False):
        changes.append(f"column {name} maximum tightened from {old.maximum} to {new.maximum}")
    if new.closed:
        allowed = set(new.categories or ())
        if not old.closed:
            changes.append(f"column {name} now rejects categories outside {sorted(map(str, allowed))}")
        else:
            dropped = set(old.categories or ()) - allowed
            if dropped:
                changes.append(f"column {name} no longer accepts {sorted(map(str, dropped))}")
    if old.timezone != new.timezone and old.type == "datetime" and new.type == "datetime":
        changes.append(f"column {name} timezone changed from {old.timezone} to {new.timezone}")
    return changes


def _tighter(old: float | str | None, new: float | str | None, *, lower: bool) -> bool:
    if new is None:
        return False
    if old is None:
        return True
    try:
        return bool(new > old) if lower else bool(new < old)  # type: ignore[operator]
    except TypeError:
        return old != new
