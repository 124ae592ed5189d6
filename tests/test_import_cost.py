"""What a process pays to start: ``import shipyard``, the command line, a server's supervisor.

``import shipyard`` once took a second and 150 MiB, ``shipyard --version`` 1.4 s, and the supervisor of
``shipyard serve`` carried pandas, pyarrow and numpy it never used. Each test runs a fresh interpreter
(``sys.modules`` of this one holds everything the suite has imported) and lists what it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shipyard.registry import Registry
from tests.models import classification_frame, tiny_classifier

#: Libraries the start of a process must not pay for: data, learning, the web framework, the database.
DATA_AND_LEARNING = ("pandas", "pyarrow", "numpy", "sklearn", "scipy", "duckdb", "fastapi", "starlette")
HEAVY = (*DATA_AND_LEARNING, "sqlalchemy", "fsspec", "pydantic")

REPORT = """
import json, sys
loaded = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.argv[1])))
print(json.dumps(loaded))
"""


def loaded_by(code: str, watched: tuple[str, ...], *, cwd: Path | None = None) -> list[str]:
    """Which of ``watched`` a fresh interpreter has imported after running ``code``."""
    ran = subprocess.run(
        [sys.executable, "-c", code + REPORT, json.dumps(watched)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )
    assert ran.returncode == 0, ran.stderr
    loaded: list[str] = json.loads(ran.stdout.strip().splitlines()[-1])
    return loaded


def test_import_shipyard_loads_no_heavy_library() -> None:
    code = (
        "import shipyard\n"
        "assert shipyard.ModelRef.parse('fraud/3').model == 'fraud' and shipyard.__version__\n"
        "assert isinstance(shipyard.NotFound('x'), shipyard.ShipyardError)\n"
    )
    assert loaded_by(code, HEAVY) == []


def test_a_public_name_of_shipyard_loads_on_first_use() -> None:
    code = "from shipyard import Registry\nassert Registry.__module__ == 'shipyard.registry.registry'\n"
    assert loaded_by(code, DATA_AND_LEARNING) == []


def test_version_and_help_build_the_command_line_without_its_services() -> None:
    code = (
        "import contextlib, io\n"
        "from shipyard.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['--version']) == 0 and main(['--help']) == 0\n"
    )
    assert loaded_by(code, HEAVY) == []


def test_planning_a_server_loads_no_data_or_learning_library(tmp_path: Path) -> None:
    """The supervisor of ``shipyard serve`` resolves the aliases and checks the alert rules and retraining
    policies (``plan_server``); the workers, not the supervisor, load the models and the log."""
    home = tmp_path / "ws"
    frame, _ = classification_frame()
    with Registry(home=home) as registry:
        registry.register("fraud", tiny_classifier(), reference=frame)
        registry.set_alias("fraud", "production", 1)
    (home / "spec.toml").write_text('[model]\nname = "fraud"\n[data]\ndataset = "tx"\ntarget = "y"\n')
    with (home / "shipyard.toml").open("a", encoding="utf-8") as settings:
        settings.write(
            '\n[[alerts.rules]]\nname = "a-drift"\nmodel = "fraud@production"\nfigure = "drift.psi"\n'
            'column = "a"\nabove = 0.2\n\n'
            '[retraining.fraud]\nspec = "spec.toml"\ndata = { source = "log" }\nthen = "register"\n'
            "[retraining.fraud.triggers]\nnew_labels = 5000\n"
        )
    code = (
        "from shipyard.config import load_settings\n"
        "from shipyard.server.launcher import plan_server\n"
        f"plan = plan_server(['fraud@production'], settings=load_settings({str(home)!r}))\n"
        "lines = plan.describe()\n"
        "assert lines[0].startswith('serving fraud@production (now fraud/1)'), lines\n"
        "assert any(line.startswith('alerting with') for line in lines), lines\n"
        "assert plan.retraining == ('fraud',), plan.retraining\n"
    )
    assert loaded_by(code, DATA_AND_LEARNING, cwd=tmp_path) == []


def test_a_workspace_on_sqlite_never_loads_the_postgresql_dialect(tmp_path: Path) -> None:
    """SQLAlchemy's PostgreSQL dialect imports every one of its drivers (about 40 ms of each process); a
    SQLite workspace registers, resolves and records without it (JSON columns, version numbers). Creating
    the workspace is left out: Alembic's migrations load every dialect's DDL once."""
    home = tmp_path / "ws"
    with Registry(home=home) as registry:
        registry.register("fraud", tiny_classifier())
    code = (
        "import sys\n"
        "from shipyard.registry import Registry, VersionMetadata\n"
        "from tests.models import tiny_classifier\n"
        f"with Registry(home={str(home)!r}) as registry:\n"
        "    tags = VersionMetadata(tags={'team': 'risk'})\n"
        "    registry.register('fraud', tiny_classifier(), metadata=tags)\n"
        "    registry.register('churn', tiny_classifier())\n"
        "    registry.set_alias('fraud', 'production', 2)\n"
        "    assert registry.resolve('fraud@production').tags == {'team': 'risk'}\n"
        "print([name for name in sys.modules if name.startswith('sqlalchemy.dialects.postgresql')])\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[1],
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip().splitlines()[-1] == "[]"


#: Every package whose names load on first use.
LAZY_PACKAGES = (
    "shipyard",
    "shipyard.flavors",
    "shipyard.monitoring",
    "shipyard.predictions",
    "shipyard.registry",
    "shipyard.rollouts",
    "shipyard.server",
)


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_exported_name_is_the_object_its_module_defines(package: str) -> None:
    """Each name of ``__all__`` resolves, is listed by ``dir()``, and stays the defined object even when a
    submodule of the same name was imported first (the import would bind the module there instead)."""
    code = f"""
import importlib, pkgutil, types
package = importlib.import_module({package!r})
submodules = {{module.name for module in pkgutil.iter_modules(package.__path__)}}
for name in package.__all__:
    if name in submodules:
        importlib.import_module(f"{{package.__name__}}.{{name}}")
for name in package.__all__:
    assert not isinstance(getattr(package, name), types.ModuleType), name
    assert name in dir(package), name
"""
    loaded_by(code, ())


def test_an_unknown_name_is_an_attribute_error() -> None:
    import shipyard

    with pytest.raises(AttributeError, match="has no attribute 'Registy'"):
        _ = shipyard.Registy
