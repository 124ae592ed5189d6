"""The rules of alias moves: which actions exist, what a version number may be, and where a rollback goes.

Rollback treats an alias's history as an undo stack, so repeated rollbacks keep walking back
(after v1 → v2 → v3, two rollbacks leave the alias on v1). These are pure functions over the recorded
moves; the alias repository calls them under the model's lock.
"""

from __future__ import annotations

from collections.abc import Iterable

from shipyard.errors import Conflict, InvalidInput
from shipyard.numerals import MAX_INTEGER, whole_number
from shipyard.registry.entities import AliasChange

#: What a direct alias move may be called in the history; rollback and delete have their own methods.
ALIAS_ACTIONS = frozenset({"set", "promote", "promote.forced"})


def check_action(action: str) -> str:
    if action not in ALIAS_ACTIONS:
        raise InvalidInput(f"unknown alias action {action!r}; one of {', '.join(sorted(ALIAS_ACTIONS))}")
    return action


def version_number(version: object) -> int:
    """A version number from an int or a digit string; InvalidInput for anything below 1."""
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_INTEGER:
        number = whole_number(version)
        if number is not None and number >= 1:
            return number
        raise InvalidInput(f"version must be a whole number from 1 to {MAX_INTEGER}, got {_shown(version)}")
    return version


def _shown(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_INTEGER:
        return "a larger number"  # repr of a very long int raises
    return repr(value[:40] if isinstance(value, str) else value)


def rollback_target(name: str, alias: str, history: list[AliasChange]) -> int:
    """The version ``name@alias`` held before its last move, replaying rollbacks as undos."""
    candidate = _undo_target(_undo_stack(history))
    if candidate is None:
        raise Conflict(
            f"{name}@{alias} has no earlier version to roll back to "
            f"(see 'shipyard alias history {name}@{alias}')"
        )
    return candidate


def _undo_stack(history: Iterable[AliasChange]) -> list[int | None]:
    """Replay alias moves as an undo stack: sets and deletes push, a rollback pops back to its target."""
    stack: list[int | None] = []
    for event in history:
        if event.action == "rollback":
            below = _below_top(stack)
            if below and below[-1] == event.version:
                stack = below
                continue
        stack.append(event.version)
    return stack


def _below_top(stack: list[int | None]) -> list[int | None]:
    """The stack without its top and without the deletions directly beneath it."""
    below = stack[:-1]
    while below and below[-1] is None:
        below.pop()
    return below


def _undo_target(stack: list[int | None]) -> int | None:
    if stack and stack[-1] is None:  # the alias is deleted now: rolling back restores what it held
        below = _below_top([*stack, None])
        return below[-1] if below else None
    below = _below_top(stack)
    return below[-1] if below else None
