"""The dashboard's test harness: a real headless Chromium (the system's, driven by Playwright), a page that
leaves a screenshot behind when its test fails, and stored monitoring windows to draw.

No browser is downloaded: ``make browser`` installs Debian's chromium, and Playwright launches that binary.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

if TYPE_CHECKING:
    from tests.dashboard.monitored import Monitored


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the test item (``item.report_call``…), for fixtures to read."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """The system's Chromium, headless, started once per test module. Not once per process: Playwright's
    sync API keeps an event loop running in this thread while it is open, and a test of another module
    that calls ``asyncio.run`` in the same worker would then fail."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("no chromium on PATH: run `make browser` (it installs Debian's chromium package)")
    started = time.perf_counter()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable)
        print(f"chromium {launched.version} started in {time.perf_counter() - started:.2f} s")
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Page]:
    """A fresh page (its own context: no cookies shared between tests); when the test fails, a screenshot
    of it is saved in the test's tmp dir and its path printed."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    try:
        yield opened
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            shot = tmp_path / "failure.png"
            opened.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failing page: {shot}")
        context.close()


@pytest.fixture(scope="session")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Monitored:
    """Stored monitoring windows of a trained model (see ``monitored.py``), made once per test process."""
    from tests.dashboard.monitored import monitor_traffic  # here, so the harness alone imports no test model

    return monitor_traffic(tmp_path_factory.mktemp("dashboard") / "ws")
