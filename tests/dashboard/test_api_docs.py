"""``/api/docs`` on the control plane: Swagger UI shipped inside shipyard draws every management route, in a
real Chromium, asking no other host for anything."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import Page, expect

from shipyard import Registry
from tests.control.conftest import start_control_plane, stop


def test_the_api_page_draws_the_management_routes_from_this_host_only(page: Page, tmp_path: Path) -> None:
    Registry(home=tmp_path / "ws").close()
    url, process = start_control_plane(tmp_path / "ws", "--auth")
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlparse(request.url).netloc))
    try:
        page.goto(f"{url}/api/docs")
        expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=15_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        assert any("/api/v1/models/{name}/aliases/{alias}/rollback" in path for path in paths)
        assert not any(path.startswith("/models") for path in paths)  # the dashboard's pages are not API
        expect(page.locator("button.authorize")).to_be_visible()
    finally:
        stop(process)
    assert hosts == {urlparse(url).netloc}
