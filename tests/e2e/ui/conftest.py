"""Browser fixtures for the web UI's end-to-end tests: Debian's Chromium (never a download),
driven headless by Playwright; every page's console errors fail the test; screenshots go to
the test's temp folder.

`ui` is a signed-in page on the shared platform (`kaon`); `browser` is the one Chromium of the
pytest worker. Without /usr/bin/chromium the tests skip, except under CI=true (a failure:
`make setup` installs it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ..helpers import Kaon

CHROMIUM = os.environ.get("KAON_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [  # the machine's closed network: no background connections, no first-run work
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module: Playwright's sync API keeps an event loop running in this
    thread while it is open, and a later test's asyncio.run() would fail under it."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium not found at {CHROMIUM}: `make setup` installs it (apt)")
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Ui:
    """A browser page signed in to a platform; `errors` collects console errors and page
    exceptions; `shot(name)` saves a screenshot under `shots`."""

    page: Any
    base: str
    shots: Path
    errors: list[str] = field(default_factory=list)

    def go(self, path: str) -> Any:
        response = self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")
        return response

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def overflows(self) -> bool:
        """Whether the page is wider than the window (a phone would scroll sideways)."""
        width = self.page.evaluate("document.documentElement.scrollWidth")
        return bool(width > self.page.viewport_size["width"])


def open_ui(
    browser: Any,
    k: Kaon,
    shots: Path,
    viewport: dict[str, int] = DESKTOP,
    token: str | None = None,
) -> Ui:
    """A new browser context on `k`'s platform, signed in with `token` (default: the
    platform's)."""
    doc = k.server()
    assert doc is not None
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    shots.mkdir(parents=True, exist_ok=True)
    ui = Ui(page, doc["url"], shots)
    page.on("console", lambda m: ui.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: ui.errors.append(str(e)))
    ui.go("/ui/signin")
    page.fill("#token", token or (k.home / "token").read_text().strip())
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return ui


@pytest.fixture
def ui(browser: Any, kaon: Kaon, tmp_path: Path) -> Iterator[Ui]:
    handle = open_ui(browser, kaon, tmp_path / "screenshots")
    try:
        yield handle
        assert handle.errors == [], f"console errors: {handle.errors}"
    finally:
        handle.page.context.close()
