"""The health check's URLs are the ones shipyard serves: its probe paths are real routes of each role and
its default ports are the commands' own defaults, read from the code rather than written twice."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path
from types import ModuleType

import pytest
from starlette.routing import Route

from shipyard.cli.control import server_command
from shipyard.cli.serve import serve_command
from shipyard.config import load_settings
from shipyard.server import ServeOptions
from shipyard.server.control.app import create_control_app
from shipyard.server.operations import ROUTES
from tests.deploy.conftest import HEALTHCHECK


def load_healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("image_healthcheck", HEALTHCHECK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


healthcheck = load_healthcheck()


def default_port(command: object) -> int:
    port = inspect.signature(command).parameters["port"].default  # type: ignore[arg-type]
    assert isinstance(port, int)
    return port


def serve_paths() -> set[str]:
    return {route.path for route in ROUTES if isinstance(route, Route)}


def control_paths(tmp_path: Path) -> set[str]:
    app = create_control_app(load_settings(tmp_path / "ws"), auth=True)
    return {getattr(route, "path", "") for route in app.routes}


def test_serve_probe_is_readiness_on_serves_default_port() -> None:
    path, port = healthcheck.PROBES["serve"]
    assert path == "/health/ready" and path in serve_paths()
    assert port == default_port(serve_command) == ServeOptions().port


def test_server_probe_is_health_on_servers_default_port(tmp_path: Path) -> None:
    path, port = healthcheck.PROBES["server"]
    assert path in control_paths(tmp_path)
    assert port == default_port(server_command)


@pytest.mark.parametrize(
    ("argv", "url"),
    [
        (["/opt/shipyard/bin/python3", "/opt/shipyard/bin/shipyard", "serve", "--host", "0.0.0.0", "m@prod"],
         "http://127.0.0.1:8080/health/ready"),
        (["python", "shipyard", "serve", "--host", "0.0.0.0", "m", "--port", "9000"],
         "http://127.0.0.1:9000/health/ready"),
        (["python", "shipyard", "serve", "--port=9001", "m"], "http://127.0.0.1:9001/health/ready"),
        (["python", "shipyard", "server", "--host", "0.0.0.0"], "http://127.0.0.1:5000/health"),
        (["python", "shipyard", "server", "-p", "5001"], "http://127.0.0.1:5001/health"),
        (["python", "shipyard", "--home", "/w", "scheduler", "--interval", "5"], None),
    ],
)  # fmt: skip
def test_probe_url_follows_the_role_and_its_port(argv: list[str], url: str | None) -> None:
    assert healthcheck.probe_url(argv) == url


@pytest.mark.parametrize("argv", [[], ["python", "-m", "http.server"], ["shipyard", "models", "list"]])
def test_a_command_that_is_no_role_is_refused(argv: list[str]) -> None:
    with pytest.raises(ValueError, match="not a shipyard role"):
        healthcheck.probe_url(argv)


def test_a_port_that_is_no_number_is_refused() -> None:
    with pytest.raises(ValueError):
        healthcheck.probe_url(["shipyard", "serve", "--port", "http", "m"])
