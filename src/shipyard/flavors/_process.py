"""Whether this process is one of shipyard's own (a CLI command, a server worker), where nothing but shipyard
loads model files: the formats may then skip work done only for other callers of their libraries (the
sklearn format imports skops without its list of scikit-learn's estimators). Light on purpose: the CLI
sets it before it imports anything else."""

from __future__ import annotations

_own = False


def own_process() -> None:
    """Say that this process is shipyard's own."""
    global _own
    _own = True


def is_own_process() -> bool:
    return _own
