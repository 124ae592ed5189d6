"""Package exports imported on first use (PEP 562), so importing a package costs only what is used.

``import shipyard`` and the packages a server's supervisor or the command line walk through would
otherwise load pandas, pyarrow and SQLAlchemy for names they never touch. A package lists its public
names under ``if TYPE_CHECKING:`` (what mypy and editors read) and hands the same names, by defining
module, to :func:`lazy_exports`, whose ``__getattr__`` imports a name's module the first time it is read
and binds the name on the package, so later reads are plain attribute lookups.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping


def lazy_exports(
    package: str, origins: Mapping[str, Iterable[str]]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose names live in ``origins``: defining module
    (absolute) → the names it defines."""
    module_of = {name: module for module, names in origins.items() for name in names}

    def __getattr__(name: str) -> object:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        # Bound after the import: a submodule named like one of its names (``alerts.silences``) would
        # otherwise leave the module where the package promises the function.
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *module_of})

    return __getattr__, __dir__
