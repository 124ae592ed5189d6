"""schemathesis against a live server's ``/openapi.json``: every answer is documented, none is a server error.

A real ``shipyard serve`` answers requests that schemathesis derives from the OpenAPI document the server
publishes: the document's examples, its coverage cases (each parameter at its edges, each body absent, of
the wrong type or empty) and ``bounds.EXAMPLES`` generated cases per operation, valid and invalid. Four
checks judge each answer: no 5xx (``not_a_server_error``), a documented status code, a documented media
type and a body matching its documented schema. It runs once against a server without a token and once
against one with ``--token`` (sending the token); the token server must also document the 401 it gives a
request without one. The seed is fixed and generation derandomized, so a run is repeatable.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.engine import events, from_schema

from shipyard import Registry
from shipyard.gates import promote
from shipyard.training import train
from tests.models import transactions
from tests.reliability.bounds import EXAMPLES
from tests.serving.conftest import Server, fraud_spec, start_server, stop_server

pytestmark = pytest.mark.slow

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
SEED = 15
TOKEN = "fuzz-s3cret"
#: What to put in a path parameter when a route is called by hand.
PATH_VALUES = {"name": "fraud", "version": "1"}


@dataclass
class Finding:
    """One check that failed: where, which check, the status answered, and a curl line to replay it."""

    operation: str
    check: str
    status: int | None
    message: str
    curl: str

    def __str__(self) -> str:
        first = self.message.strip().splitlines()[0] if self.message.strip() else ""
        return f"{self.operation}: {self.check} ({self.status}): {first}\n    {self.curl}"


@dataclass
class FuzzRun:
    """What one schemathesis run generated and found."""

    cases: collections.Counter[str] = field(default_factory=collections.Counter)
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self, label: str) -> str:
        return (
            f"schemathesis [{label}]: {len(self.cases)} operations, {sum(self.cases.values())} cases, "
            f"{len(self.findings)} failures, {len(self.errors)} errors"
        )


def fuzz(url: str, headers: dict[str, str]) -> FuzzRun:
    """Run schemathesis (examples, coverage and fuzzing phases; no stateful links) against ``url``."""
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": headers,
            "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "phases": {"stateful": {"enabled": False}},
            "continue-on-failure": True,
        }
    )
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=config, headers=headers)
    schema.config.update(base_url=url)
    run = FuzzRun()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.label is not None:
            _record(run, event, headers)
        elif isinstance(event, events.NonFatalError | events.FatalError):
            run.errors.append(str(getattr(event, "info", event))[:500])
    return run


def _record(run: FuzzRun, event: events.ScenarioFinished, headers: dict[str, str]) -> None:
    recorder = event.recorder
    run.cases[str(event.label)] += len(recorder.cases)
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.failure_info is None:
                continue
            case = recorder.cases[case_id].value
            interaction = recorder.interactions.get(case_id)
            response = interaction.response if interaction is not None else None
            run.findings.append(
                Finding(
                    operation=str(event.label),
                    check=check.name,
                    status=response.status_code if response is not None else None,
                    message=str(check.failure_info.failure),
                    curl=check.failure_info.code_sample or case.as_curl_command(headers=headers),
                )
            )


def distinct(findings: list[Finding]) -> list[Finding]:
    """One finding per operation, check and status: a defect found by ten cases is listed once."""
    seen: dict[tuple[str, str, int | None], Finding] = {}
    for finding in findings:
        seen.setdefault((finding.operation, finding.check, finding.status), finding)
    return list(seen.values())


@pytest.fixture(scope="module")
def fuzz_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One trained, promoted model with a data contract: what the server validates generated rows against."""
    home = tmp_path_factory.mktemp("fuzz") / "ws"
    with Registry(home=home, actor="tests") as registry:
        registry.datasets.add("tx", transactions(rows=300))
        train(fraud_spec(), registry=registry, progress=False)
        promote(registry, "fraud/1", "production")
    return home


@pytest.fixture(scope="module", params=["open", "token"])
def live(request: pytest.FixtureRequest, fuzz_workspace: Path) -> Iterator[tuple[str, Server]]:
    """One server per kind, each on its own: under pytest-xdist a worker starts only the server it tests."""
    extra = ["--token", TOKEN] if request.param == "token" else []
    running = start_server(fuzz_workspace, ["fraud@production"], *extra, workers=1)
    yield request.param, running
    stop_server(running)


def test_schemathesis_finds_no_failure(live: tuple[str, Server]) -> None:
    kind, server = live
    headers = {"Authorization": f"Bearer {TOKEN}"} if kind == "token" else {}
    if kind == "token":
        check_the_refusal_of_a_missing_token_is_documented(server)
    run = fuzz(server.url, headers)
    print(f"\n{run.summary(kind)}")
    assert sum(run.cases.values()) >= len(run.cases) * 2, f"too few cases generated: {dict(run.cases)}"
    assert not run.errors, "schemathesis could not run some operations:\n" + "\n".join(run.errors)
    found = distinct(run.findings)
    assert not found, f"{run.summary(kind)}; distinct:\n" + "\n".join(map(str, found))
    assert "Traceback" not in server.log_text()


def _call_without_token(client: httpx.Client, path: str, method: str) -> httpx.Response:
    for name, value in PATH_VALUES.items():
        path = path.replace(f"{{{name}}}", value)
    body: dict[str, Any] = {}
    if method == "post":
        body = {"content": b"{}", "headers": {"Content-Type": "application/json"}}
    return client.request(method.upper(), path, **body)


def check_the_refusal_of_a_missing_token_is_documented(server: Server) -> None:
    """Each route a token guards answers 401 without it, as JSON, and the document lists that 401."""
    with server.client() as client:
        document = client.get("/openapi.json").json()
        guarded = []
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                response = _call_without_token(client, path, method)
                if response.status_code != 401:
                    continue
                guarded.append(f"{method.upper()} {path}")
                documented = operation["responses"].get("401", {}).get("content", {})
                assert documented, f"{method.upper()} {path} answers 401 without a token but documents no 401"
                assert response.headers["content-type"].split(";")[0] in documented
                assert response.headers.get("www-authenticate", "").lower().startswith("bearer")
    assert "POST /v1/models/{name}/predict" in guarded and "GET /v1/models" in guarded, guarded
    assert not [route for route in guarded if "/health" in route or route.endswith("/metrics")], guarded
