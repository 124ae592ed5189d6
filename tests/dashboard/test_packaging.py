"""The wheel carries the dashboard's templates and static files: an installed server draws its pages and
charts without the source tree or a CDN."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = "shipyard/server/dashboard"


@pytest.mark.slow
def test_the_wheel_carries_plotly_its_licence_and_the_templates(tmp_path: Path) -> None:
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
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        plotly = archive.read(f"{DASHBOARD}/static/plotly-basic.min.js")
    expected = {"static/plotly-LICENSE.txt", "static/README", "static/dashboard.js", "templates/base.html"}
    assert {f"{DASHBOARD}/{name}" for name in expected} <= names
    assert plotly == (ROOT / "src" / DASHBOARD / "static/plotly-basic.min.js").read_bytes()
