"""The API page: ``/`` links to what a person opens, ``/docs`` draws the server's OpenAPI document in a real
headless Chromium from files the server itself serves, and both stay public on a server with a token, where
"Try it out" answers 401 until the page is given the token, then sends it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import websockets

from tests.serving.conftest import Server, free_port


def test_the_root_page_links_to_the_api_page_the_document_the_models_and_the_metrics(
    server: Server,
) -> None:
    with server.client() as client:
        response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    links = set(re.findall(r'href="([^"]+)"', response.text))
    assert {"/docs", "/openapi.json", "/v1/models", "/metrics", "/health/ready"} <= links
    assert "Serving: fraud." in response.text
    assert "Bearer" not in response.text  # no token here: nothing to say about one


def test_the_api_page_loads_swagger_ui_from_this_server_only(server: Server) -> None:
    with server.client() as client:
        page = client.get("/docs")
        script = client.get("/docs/swagger-ui-bundle.js")
        style = client.get("/docs/swagger-ui.css")
        editor = client.get("/docs/swagger-editor-bundle.js")  # the package ships it; it is not served
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sorted(sources) == ["/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "data:,"]
    assert "validatorUrl: null" in page.text  # no copy of the document goes to an online validator
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "SwaggerUIBundle" in script.text
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert editor.status_code == 404


def test_the_pages_are_public_on_a_token_server_and_the_root_page_says_how_to_call_the_rest(
    guarded_server: Server,
) -> None:
    with guarded_server.client() as client:
        answers = {path: client.get(path) for path in ["/", "/docs", "/docs/swagger-ui.css", "/openapi.json"]}
        models = client.get("/v1/models")
    assert {path: answer.status_code for path, answer in answers.items()} == dict.fromkeys(answers, 200)
    assert "Authorization: Bearer &lt;token&gt;" in answers["/"].text
    assert models.status_code == 401
    document = answers["/openapi.json"].json()
    assert document["paths"]["/docs"]["get"]["security"] == []
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}


def _chromium() -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, (
        "Chromium is needed for the API page test: 'make test' installs it (apt-get install chromium)"
    )
    return browser


def _open_in_chromium(url: str, net_log: Path) -> str:
    """The page's DOM once headless Chromium ran its scripts, with everything its network stack did written to
    ``net_log``. Every host name but the server's address resolves to nothing: a page that needed another
    host could not draw, and Chromium's own background calls (updates, accounts) never leave the machine."""
    completed = subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--log-net-log={net_log}",
            "--virtual-time-budget=15000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


def _page_requests(net_log: Path, site: str) -> dict[str, str]:
    """Each request the page at ``site`` made (its own and its subresources, from any host: they share the
    page's network isolation key), with its outcome: the status line, or the network error that ended it.
    Chromium's own background requests carry another key and are left out."""
    log = json.loads(net_log.read_text())
    kinds = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    urls: dict[int, str] = {}
    outcomes: dict[int, str] = {}
    for event in log["events"]:
        kind, source, params = kinds[event["type"]], event["source"]["id"], event.get("params", {})
        if kind == "URL_REQUEST_START_JOB" and params.get("network_isolation_key", "").startswith(f"{site} "):
            urls[source] = params["url"]
        elif kind == "HTTP_TRANSACTION_READ_RESPONSE_HEADERS":
            outcomes.setdefault(source, params["headers"][0])
        elif params.get("net_error", 0) != 0 and kind in {"URL_REQUEST_START_JOB", "REQUEST_ALIVE"}:
            outcomes[source] = f"net error {params['net_error']}"
    return {url: outcomes.get(source, "no answer") for source, url in urls.items()}


def test_the_api_page_draws_every_operation_in_chromium_asking_no_other_host(
    guarded_server: Server, tmp_path: Path
) -> None:
    net_log = tmp_path / "net-log.json"
    dom = _open_in_chromium(f"{guarded_server.url}/docs", net_log)
    document = httpx.get(f"{guarded_server.url}/openapi.json").json()

    drawn = re.findall(r'data-path="([^"]+)"', dom)
    operations = [path for path, methods in document["paths"].items() for _ in methods]
    assert sorted(drawn) == sorted(operations), "Swagger UI did not draw every operation"
    assert "Unable to render" not in dom
    assert 'class="btn authorize' in dom  # the token server's bearer scheme: the page takes the token
    requests = _page_requests(net_log, "http://127.0.0.1")
    assert requests == {
        f"{guarded_server.url}{path}": "HTTP/1.1 200 OK"
        for path in ["/docs", "/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js", "/openapi.json"]
    }


class DevTools:
    """A page of a headless Chromium driven over the DevTools protocol: navigate, then run scripts in it."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.calls = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.calls += 1
        await self.socket.send(json.dumps({"id": self.calls, "method": method, "params": params}))
        while True:
            answer: dict[str, Any] = json.loads(await self.socket.recv())
            if answer.get("id") == self.calls:
                return answer

    async def run(self, script: str) -> Any:
        answer = await self.call("Runtime.evaluate", expression=script, awaitPromise=True, returnByValue=True)
        return answer["result"]["result"].get("value")

    async def wait_for(self, script: str, seconds: float = 30) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if value := await self.run(script):
                return value
            await asyncio.sleep(0.1)
        raise AssertionError(f"the page never answered {script!r}")

    async def click(self, selector: str) -> None:
        """Click the element once the page has drawn it."""
        await self.wait_for(f"(e => e ? (e.click(), true) : false)(document.querySelector('{selector}'))")


@contextlib.contextmanager
def _chromium_with_devtools() -> Iterator[str]:
    """A headless Chromium that other hosts are out of reach of; yields its DevTools address."""
    port = free_port()
    browser = subprocess.Popen(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--remote-debugging-port={port}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        browser.terminate()
        browser.wait(timeout=30)


_MODELS = "#operations-default-get_v1_models"
_STATUS = f"document.querySelector('{_MODELS} .live-responses-table tbody .response-col_status')?.textContent"


async def _try_models_twice(devtools_url: str, page_url: str, token: str) -> tuple[str, str, str]:
    """Try it out on GET /v1/models without a token, then after authorizing: both statuses, and the curl
    line Swagger UI shows for the second call."""
    deadline = time.monotonic() + 30
    while True:
        try:
            targets = httpx.get(f"{devtools_url}/json", timeout=2).json()
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, "Chromium's DevTools never answered"
            await asyncio.sleep(0.2)
    page = next(target for target in targets if target["type"] == "page")
    async with websockets.connect(page["webSocketDebuggerUrl"], max_size=None) as socket:
        tab = DevTools(socket)
        await tab.call("Page.navigate", url=page_url)
        await tab.click(f"{_MODELS} .opblock-summary-control")
        await tab.click(f"{_MODELS} .try-out__btn")
        await tab.click(f"{_MODELS} .execute")
        without = await tab.wait_for(_STATUS)
        await tab.run(f"ui.preauthorizeApiKey('bearer', '{token}')")  # what the Authorize dialog does
        await tab.click(f"{_MODELS} .btn-clear")
        await tab.wait_for(f"!({_STATUS})")
        await tab.click(f"{_MODELS} .execute")
        authorized = await tab.wait_for(_STATUS)
        curl = await tab.run(f"document.querySelector('{_MODELS} .curl').textContent")
    return str(without), str(authorized), str(curl)


def test_try_it_out_needs_the_token_and_sends_it_once_authorized(guarded_server: Server) -> None:
    with _chromium_with_devtools() as devtools:
        without, authorized, curl = asyncio.run(
            _try_models_twice(devtools, f"{guarded_server.url}/docs", "s3cret")
        )
    assert (without, authorized) == ("401", "200")
    assert "Authorization: Bearer s3cret" in curl
