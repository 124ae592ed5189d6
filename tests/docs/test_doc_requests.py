"""Every request the docs show is sent, as written, to a real server serving the example model.

The docs are read for ``curl`` commands in shell blocks and for Python blocks that talk to a server; each
runs against ``shipyard serve fraud@production`` on 127.0.0.1 with the model ``shipyard example fraud``
trains, and must succeed (a 2xx answer, exit code 0). A request that drifts from the example model's
features, or from the routes, fails here instead of in a newcomer's terminal.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serving.conftest import Server, start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ADDRESS = re.compile(r"(?:https?://)?(?:localhost|127\.0\.0\.1):(?:8000|8080)")
PREDICTION_ID = re.compile(r"\b[0-9a-f]{32}-\d+\b")

pytestmark = pytest.mark.slow


def shell_statements(block: str) -> Iterator[str]:
    """The statements of a shell block: lines joined while a quote is open or a line ends with ``\\``."""
    pending = ""
    for line in block.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending = f"{pending}\n{line}" if pending else line
        if pending.endswith("\\"):
            continue
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the statement goes on
            continue
        yield pending
        pending = ""


def documented_requests() -> list[tuple[str, str, str]]:
    """(where, kind, text) for every curl command and every Python block that calls a server."""
    found = []
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        for language, block in re.findall(r"```(bash|python)\n(.*?)```", text, flags=re.DOTALL):
            where = document.relative_to(ROOT).as_posix()
            if language == "python" and ADDRESS.search(block):
                found.append((where, "python", block))
            elif language == "bash":
                found += [(where, "curl", s) for s in shell_statements(block) if s.startswith("curl ")]
    return found


REQUESTS = documented_requests()


@pytest.fixture(scope="module")
def example_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """The example model, trained and promoted as the README does, served; and one real prediction id."""
    folder = tmp_path_factory.mktemp("docs-example")
    env = {**os.environ, "SHIPYARD_HOME": str(folder / ".shipyard")}
    for command in (
        ["example", "fraud", "."],
        ["train", "spec.toml"],
        ["promote", "fraud/1", "--to", "production"],
    ):
        subprocess.run([sys.executable, "-m", "shipyard", *command], cwd=folder, env=env, check=True)
    server = start_server(folder / ".shipyard", ["fraud@production"], workers=1)
    try:
        answer = httpx.post(
            f"{server.url}/v1/models/fraud/predict",
            json={"records": [{"amount": 9.5, "hour": 12, "channel": "pos", "account_age_days": 400}]},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        yield server, answer.json()["prediction_ids"][0]
    finally:
        stop_server(server)


def test_the_docs_show_requests_for_every_protocol() -> None:
    shown = "\n".join(text for _, _, text in REQUESTS)
    for route in ("/v1/models/fraud/predict", "/invocations", "/v1/feedback", "/docs"):
        assert route in shown
    assert "InferenceServerClient" in shown


@pytest.mark.parametrize(
    ("where", "kind", "text"), REQUESTS, ids=[f"{w}:{k}{i}" for i, (w, k, _) in enumerate(REQUESTS)]
)
def test_documented_request_succeeds_against_the_example_model(
    example_server: tuple[Server, str], where: str, kind: str, text: str
) -> None:
    server, prediction_id = example_server
    host = server.url.removeprefix("http://")
    runnable = ADDRESS.sub(lambda m: server.url if "//" in m.group() else host, text)
    runnable = PREDICTION_ID.sub(prediction_id, runnable)
    if kind == "python":
        ran = subprocess.run([sys.executable, "-c", runnable], capture_output=True, text=True, timeout=120)
    else:  # curl fails on a 4xx/5xx answer, and a pipe fails if any part of it does
        runnable = runnable.replace("curl ", "curl --fail-with-body -sS ", 1)
        ran = subprocess.run(
            ["bash", "-o", "pipefail", "-c", runnable], capture_output=True, text=True, timeout=120
        )
    assert ran.returncode == 0, f"{where}: {text}\n{ran.stdout}\n{ran.stderr}"
    if "/v1/feedback" in text:
        outcome = json.loads(ran.stdout)
        assert outcome["received"] == 1 and outcome["invalid"] == 0
