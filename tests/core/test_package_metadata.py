"""The installed package describes itself in today's metadata (the licence as an SPDX expression: the table
form made setuptools warn on every install), keeps its core lean, and ships its data files."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def test_the_licence_is_an_spdx_expression() -> None:
    metadata = importlib.metadata.metadata("shipyard")
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["License"] is None  # the deprecated free-text field is gone


def _requirements() -> list[Requirement]:
    return [Requirement(text) for text in importlib.metadata.requires("shipyard") or []]


def test_the_core_install_leaves_out_what_only_some_users_need() -> None:
    core = {canonicalize_name(r.name) for r in _requirements() if r.marker is None}
    assert not core & {"plotly", "duckdb", "xgboost", "xgboost-cpu", "torch"}  # reports draw their own SVG
    extras = {
        extra: {
            canonicalize_name(r.name)
            for r in _requirements()
            if r.marker and r.marker.evaluate({"extra": extra})
        }
        for extra in ("query", "xgboost")
    }
    assert extras["query"] == {"duckdb"}
    assert extras["xgboost"] == ({"xgboost-cpu"} if sys.platform in {"linux", "win32"} else {"xgboost"})


def test_no_pinned_package_is_a_cuda_library() -> None:
    pins = (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    assert not [pin for pin in pins if pin.startswith("nvidia-")]


@pytest.mark.slow
def test_the_wheel_carries_the_examples_migrations_and_swagger_ui(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("shipyard-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"shipyard/examples/fraud/spec.toml", "shipyard/examples/fraud/transactions.csv"} <= names
    assert any(name.startswith("shipyard/store/migrations/versions/") for name in names)
    swagger_ui = {"swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"}
    assert {f"shipyard/server/swagger_ui/{name}" for name in swagger_ui} <= names
