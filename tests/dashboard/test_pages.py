"""The dashboard in a real Chromium against a real ``shipyard server --auth``: sign in, find a model, read
its drift chart, roll production back through the confirmation page, and find the move under your name;
what a viewer, a forged form and hostile text get."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from shipyard import Registry
from shipyard.access import AccessService, Role
from tests.control.conftest import start_control_plane, stop
from tests.dashboard.monitored import Monitored

PASSWORDS = {"viewer": "viewer-password-1", "operator": "operator-password-1"}


@dataclass
class Dashboard:
    url: str
    home: Path


@pytest.fixture
def dashboard(monitored: Monitored, tmp_path: Path) -> Iterator[Dashboard]:
    """A copy of the monitored workspace (production moved v1 → v2, a viewer and an operator with
    passwords, a second model with no traffic) behind a live control plane."""
    home = tmp_path / "ws"
    shutil.copytree(monitored.home, home)
    with Registry(home=home, actor="tests") as registry:
        registry.set_alias("fraud", "production", 1, reason="first release")
        registry.set_alias("fraud", "production", 2, reason="second release")
        registry.update_model("fraud", description="<script>alert('model')</script> flags card fraud")
        quiet = registry.resolve("fraud/1")
        registry.register("quiet", path=None, model=registry.load_model(quiet.ref).native)
        access = AccessService(registry.db, registry.actor)
        for role in (Role.VIEWER, Role.OPERATOR):
            access.create_user(role.label, role, password=PASSWORDS[role.label])
    url, process = start_control_plane(home, "--auth")
    try:
        yield Dashboard(url, home)
    finally:
        stop(process)


def sign_in(page: Page, url: str, user: str) -> None:
    page.goto(f"{url}/models")
    expect(page).to_have_url(re.compile(r"/login\?next=/models$"))
    page.fill("#username", user)
    page.fill("#password", PASSWORDS[user])
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{url}/models")


def test_an_operator_reads_drift_and_rolls_production_back(page: Page, dashboard: Dashboard) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, dashboard.url, "operator")
    expect(page.locator("header .user")).to_have_text("operator (operator)")
    page.click("text=fraud")
    expect(page.locator("h1")).to_have_text("fraud")
    expect(page.locator("#chart-drift .main-svg").first).to_be_visible()
    expect(page.locator("#chart-drift")).to_contain_text("amount")
    expect(page.locator("#chart-latency .main-svg").first).to_be_visible()
    expect(page.locator("main")).to_contain_text("<script>alert('model')</script> flags card fraud")
    page.click("#aliases a.rollback")
    expect(page.locator("main")).to_contain_text("moves from v2 back to v1")
    page.fill("#reason", "drift on amount since v2")
    page.click("#confirm-rollback")
    expect(page.locator(".flash")).to_have_text("Rolled back: fraud@production v2 → v1")
    first_move = page.locator("#history tbody tr").first
    expect(first_move).to_contain_text("rollback: v2 → v1")
    expect(first_move).to_contain_text("operator")
    expect(first_move).to_contain_text("drift on amount since v2")
    assert dialogs == []  # the model's description was shown as text, never run
    with Registry(home=dashboard.home) as registry:
        assert registry.resolve("fraud@production").version == 1
        [event] = registry.audit(action="alias.rollback")
        assert (event.actor, event.reason) == ("operator", "drift on amount since v2")


def test_a_viewer_sees_no_rollback_and_a_forged_form_is_refused(page: Page, dashboard: Dashboard) -> None:
    sign_in(page, dashboard.url, "viewer")
    page.goto(f"{dashboard.url}/models/fraud")
    expect(page.locator("#aliases")).to_contain_text("an operator can roll back")
    expect(page.locator("#aliases a.rollback")).to_have_count(0)
    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
    with httpx.Client(base_url=dashboard.url, cookies=cookies, follow_redirects=False) as browser_like:
        refused = browser_like.post(
            "/models/fraud/aliases/production/rollback", data={"reason": "x", "csrf_token": "forged"}
        )
        assert refused.status_code == 403 and "needs the operator role" in refused.text
    with Registry(home=dashboard.home) as registry:
        registry.set_alias("fraud", "production", 2, reason="as before")


def test_a_forged_csrf_token_is_refused_even_for_an_operator(page: Page, dashboard: Dashboard) -> None:
    sign_in(page, dashboard.url, "operator")
    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
    with httpx.Client(base_url=dashboard.url, cookies=cookies, follow_redirects=False) as browser_like:
        forged = browser_like.post(
            "/models/fraud/aliases/production/rollback", data={"reason": "x", "csrf_token": "forged"}
        )
        assert forged.status_code == 403 and "CSRF token does not match" in forged.text
        missing = browser_like.post("/models/fraud/aliases/production/rollback", data={"reason": "x"})
        assert missing.status_code == 403
    with Registry(home=dashboard.home) as registry:
        assert registry.resolve("fraud@production").version == 2


def test_signing_in_wrongly_and_a_model_without_traffic(page: Page, dashboard: Dashboard) -> None:
    page.goto(f"{dashboard.url}/models/quiet")
    expect(page).to_have_url(re.compile(r"/login\?next=/models/quiet$"))
    page.fill("#username", "viewer")
    page.fill("#password", "wrong-password-here")
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_be_visible()
    page.fill("#username", "viewer")
    page.fill("#password", PASSWORDS["viewer"])
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{dashboard.url}/models/quiet")
    expect(page.locator("main")).to_contain_text("No monitored traffic yet for quiet")
    expect(page.locator(".js-plotly-plot")).to_have_count(0)
    page.goto(f"{dashboard.url}/models/frud")
    expect(page.locator("main")).to_contain_text("did you mean 'fraud'")
    page.goto(f"{dashboard.url}/models")
    page.click("header .signout button")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(f"{dashboard.url}/models")
    expect(page).to_have_url(re.compile(r"/login\?next=/models$"))  # the session ended with the sign-out
