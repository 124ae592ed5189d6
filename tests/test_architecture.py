"""The layers of shared/DESIGN.md, checked over the import graph of ``src/shipyard``.

Imports point down: interfaces → services → adapters → core. Every import counts, the ones inside a
function too (a lazy import upward is still an upward import). Top-level packages import one another
without circles, SQL stays in the store, and no web framework reaches below the interfaces.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest

import shipyard

PACKAGE = Path(shipyard.__file__).parent

#: Each top-level module or package of shipyard, by layer, lowest first.
LAYERS: dict[str, set[str]] = {
    "core": {
        "errors",
        "_version",
        "_lazy_exports",
        "numerals",
        "refs",
        "ids",
        "durations",
        "config",
        "threads",
        "_collector",
        "_heap",
        "contracts",
        "stats",
    },
    "adapters": {"store", "flavors", "predictions"},
    "services": {
        "registry",
        "datasets",
        "training",
        "gates",
        "serving",
        "batch",
        "monitoring",
        "alerts",
        "scheduling",
        "monitor_runner",
        "cicd",
        "workspace",
        "sidecars",
        "examples",
        "rollouts",
        "rollout_runner",
        "retraining",
        "retrain_runner",
        "access",
    },
    "interfaces": {"cli", "server", "client", "__main__", "__init__"},
}
RANK = {name: rank for rank, names in enumerate(LAYERS.values()) for name in names}
LAYER_OF = {name: layer for layer, names in LAYERS.items() for name in names}

#: Third-party packages that belong to one place only.
ONLY_IN = {
    "sqlalchemy": {"store"},
    "alembic": {"store"},
    "starlette": {"server"},
    "uvicorn": {"server"},
    "fastapi": {"server"},
    "typer": {"cli"},
}


def top_level(path: Path) -> str:
    """The top-level module of shipyard a file belongs to (``__init__`` for the package root)."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


@cache
def imports() -> list[tuple[str, str, str]]:
    """``(file, importing top-level module, imported module)`` for every import in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        here = top_level(path)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                module = node.module
                # ``from shipyard import x`` names a module when x is one; otherwise the package root.
                names = [_module_or_root(a.name) for a in node.names] if module == "shipyard" else [module]
            else:
                continue
            for name in names:
                found.append((str(path.relative_to(PACKAGE.parent)), here, name))
    return found


def _module_or_root(name: str) -> str:
    is_module = (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()
    return f"shipyard.{name}" if is_module else "shipyard"


def shipyard_imports() -> list[tuple[str, str, str]]:
    """The imports of shipyard's own modules, as ``(file, from top-level, to top-level)``."""
    result = []
    for file, here, name in imports():
        if name == "shipyard" or name.startswith("shipyard."):
            parts = name.split(".")
            result.append((file, here, parts[1] if len(parts) > 1 else "__init__"))
    return result


def test_every_module_has_a_layer() -> None:
    modules = {top_level(path) for path in PACKAGE.rglob("*.py")}
    unplaced = sorted(modules - set(RANK))
    assert not unplaced, f"place these modules in a layer of LAYERS (shared/DESIGN.md): {unplaced}"


def test_every_import_names_a_module_that_exists() -> None:
    missing = sorted(
        {f"{file}: shipyard.{target}" for file, _, target in shipyard_imports() if target not in RANK}
    )
    assert not missing, f"imports of modules that do not exist: {missing}"


def test_imports_point_down_the_layers() -> None:
    upward = [
        f"{file}: {here} ({LAYER_OF[here]}) imports {target} ({LAYER_OF[target]})"
        for file, here, target in shipyard_imports()
        if target in RANK and here in RANK and RANK[target] > RANK[here]
    ]
    assert not upward, "imports must point down (core ← adapters ← services ← interfaces):\n" + "\n".join(
        upward
    )


def test_nothing_imports_the_package_root() -> None:
    """The root re-exports the public API; a module importing it would load every service with it."""
    rooted = [
        file for file, here, target in shipyard_imports() if target == "__init__" and here != "__init__"
    ]
    assert not rooted, f"import from the module that defines the name, not from 'shipyard': {rooted}"


def test_top_level_modules_import_each_other_without_circles() -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    for _, here, target in shipyard_imports():
        if here != target:
            edges[here].add(target)
    circles = _circles(edges)
    assert not circles, f"these modules import each other in a circle: {circles}"


@pytest.mark.parametrize("library", sorted(ONLY_IN))
def test_a_library_stays_in_its_layer(library: str) -> None:
    allowed = ONLY_IN[library]
    stray = sorted(
        {
            file
            for file, here, name in imports()
            if (name == library or name.startswith(f"{library}.")) and here not in allowed
        }
    )
    assert not stray, f"{library} belongs in {sorted(allowed)} only; found in {stray}"


#: Functions allowed past the length limit (none today; say why beside any name added here).
LONG_BY_DESIGN: set[str] = set()
MAX_FUNCTION_LINES = 80
MAX_CLASS_LINES = 400


def test_functions_and_classes_stay_short() -> None:
    """A function a reader can hold in view (80 lines) and a class of one concern (400 lines)."""
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        where = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            size = (node.end_lineno or node.lineno) - node.lineno + 1 if hasattr(node, "lineno") else 0
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and size > MAX_FUNCTION_LINES:
                if f"{where}:{node.name}" not in LONG_BY_DESIGN:
                    long.append(f"{where}:{node.lineno} function {node.name} has {size} lines")
            elif isinstance(node, ast.ClassDef) and size > MAX_CLASS_LINES:
                long.append(f"{where}:{node.lineno} class {node.name} has {size} lines")
    assert not long, "split these into named steps:\n" + "\n".join(long)


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for after in sorted(edges.get(node, ())):
            if after not in index:
                visit(after)
                low[node] = min(low[node], low[after])
            elif after in on_stack:
                low[node] = min(low[node], index[after])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups
