"""The commands and Python of docs/registry.md (descriptions, reference data) and docs/batch.md (feeding the
monitors, the Python writer) run as written, in order, in one folder holding a model file and its data."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shipyard import Registry
from shipyard.training import train
from tests.models import transactions
from tests.serving.conftest import fraud_spec

pytestmark = pytest.mark.slow

DOCS = Path(__file__).resolve().parents[2] / "docs"


def blocks(document: str, heading: str, *, only: str | None = None) -> str:
    """The section's code blocks in order as one bash script: Python blocks fed to the interpreter."""
    text = (DOCS / document).read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    end = section.find("\n## ", 1)
    section = section if end < 0 else section[:end]
    lines = []
    for language, body in re.findall(r"```(bash|python)\n(.*?)```", section, flags=re.DOTALL):
        if only is not None and only not in body:
            continue
        lines.append(f"python - <<'PYTHON'\n{body}PYTHON" if language == "python" else body)
    assert lines, f"no code block under {heading!r} in {document}"
    return "\n".join(lines)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained elsewhere (model.skops), its training data, and a history to backfill."""
    here = tmp_path_factory.mktemp("docs")
    with Registry(home=here / "elsewhere") as registry:
        registry.datasets.add("tx", transactions(rows=800))
        version = train(fraud_spec(), registry=registry, progress=False).version
        assert version is not None
        registry.export(version.ref, here / "model.skops")
    data = transactions(rows=800)
    data.to_parquet(here / "train.parquet")
    data.to_csv(here / "train.csv", index=False)
    history = transactions(rows=72, seed=5)[["amount", "channel", "hour"]]
    start = datetime(2026, 10, 1, tzinfo=UTC)
    stamps = [start + timedelta(hours=row) for row in range(72)]  # three days, a row an hour
    history.assign(event_time=[s.strftime("%Y-%m-%dT%H:%M:%SZ") for s in stamps]).to_csv(
        here / "history.csv", index=False
    )
    return here


def run(folder: Path, script: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.update(SHIPYARD_HOME=str(folder / "ws"), COLUMNS="200")
    done = subprocess.run(
        ["bash", "-c", f"set -euo pipefail\n{script}"], cwd=folder, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_registry_and_batch_docs_run_in_order(folder: Path) -> None:
    run(folder, "shipyard init")
    reference = run(folder, blocks("registry.md", "## Reference data"))
    assert "drift is not monitored" in reference.stdout and "drift is monitored" in reference.stdout
    run(folder, blocks("registry.md", "**Two descriptions**", only="models describe"))
    with Registry(home=folder / "ws") as registry:
        assert registry.get_model("fraud").description == "Flags card payments for review."
        versions = registry.list_versions("fraud")
        assert [v.profile is not None for v in versions] == [True] * 5
        events = registry.audit(model="fraud", action="version.profile")
        assert [(e.target, e.reason) for e in events] == [
            ("fraud/3", ""),
            ("fraud/3", "profile the whole year"),
            ("fraud/4", ""),  # the Python block's replace=True
        ]

    run(folder, "shipyard alias set fraud@production 1")
    scored = run(folder, blocks("batch.md", "## Feeding the monitors"))
    assert "72 rows, 72 scored" in scored.stdout
    again = "shipyard monitor run fraud@production --from 2026-10-01 --to 2026-10-04 -w 1d --json"
    windows = json.loads(run(folder, again).stdout)
    # The scored history (72 rows) and its replay through the writer (72 more) land on their own days.
    assert {w["start"][:10]: w["rows"] for w in windows if w["rows"]} == {
        "2026-10-01": 48,
        "2026-10-02": 48,
        "2026-10-03": 48,
    }
