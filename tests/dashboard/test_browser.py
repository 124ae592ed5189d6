"""The dashboard's foundations in a real headless Chromium: a page served on 127.0.0.1 draws its Plotly
charts from the package's own JavaScript, fetches nothing from another host, and a hostile label stays text.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page, Request
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route

from shipyard.server.dashboard import STATIC_PATH, charts, static_files
from shipyard.server.dashboard.templates import environment
from tests.dashboard.live import serving
from tests.dashboard.monitored import Monitored

HOSTILE = "</script><script>window.pwned = 1</script>"
PAGE = environment().from_string(
    '{% extends "base.html" %}{% block main %}<h1>{{ model }}</h1>'
    '{{ chart(latency, "latency") }}{{ chart(drift, "drift") }}{{ chart(accuracy, "accuracy") }}'
    "{% endblock %}"
)


def dashboard_app(monitored: Monitored) -> Starlette:
    """One page of charts over stored windows, and the package's static files."""
    latency = charts.latency_figure(monitored.windows)
    assert latency is not None
    latency["data"][0]["name"] = HOSTILE
    unlabelled = [window for window in monitored.both if window.version == 2]

    async def home(request: HttpRequest) -> HTMLResponse:
        page = PAGE.render(
            workspace="demo",
            user="ann",
            active="Models",
            model="fraud",
            latency=latency,
            drift=charts.drift_figure(monitored.windows),
            accuracy=charts.accuracy_figure(unlabelled),
        )
        return HTMLResponse(page)

    return Starlette(routes=[Route("/", home), Mount(STATIC_PATH, app=static_files())])


def test_charts_render_in_chromium_from_this_server_only(page: Page, monitored: Monitored) -> None:
    requests: list[Request] = []
    problems: list[str] = []
    page.on("request", lambda request: requests.append(request))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    with serving(dashboard_app(monitored)) as url:
        page.goto(url)
        page.wait_for_selector("#latency.js-plotly-plot .main-svg")
        page.wait_for_selector("#drift.js-plotly-plot .main-svg")
        legend = page.locator("#latency .legend").text_content() or ""
        traces = page.evaluate("document.getElementById('drift').data.map(trace => trace.name)")
        pwned = page.evaluate("window.pwned")
        no_data = page.locator("#accuracy.no-data").inner_text()

    assert not problems
    assert {urlsplit(request.url).hostname for request in requests} == {"127.0.0.1"}
    assert {urlsplit(request.url).path for request in requests} == {
        "/",
        "/static/plotly-basic.min.js",
        "/static/dashboard.js",
    }
    assert HOSTILE in legend and "p95" in legend and pwned is None  # the label is text, not a script
    assert traces == ["amount", "channel", "hour", "threshold 0.2"]
    assert no_data == "No data yet."


CONFTEST = Path(__file__).with_name("conftest.py")
FAILING = """
def test_that_fails(page):
    page.set_content("<h1 style='color: red'>the page as it was</h1>")
    assert page.title() == "a title the page does not have"
"""


def test_a_failing_browser_test_leaves_a_screenshot_of_its_page(tmp_path: Path) -> None:
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "test_failing.py").write_text(FAILING)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "tmp"), "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    line = next(line for line in run.stdout.splitlines() if "screenshot of the failing page:" in line)
    shot = Path(line.split(": ", 1)[1].strip())
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.is_relative_to(tmp_path / "tmp")
