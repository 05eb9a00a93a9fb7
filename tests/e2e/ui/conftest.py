"""Browser fixtures for the web UI's end-to-end tests: Debian's Chromium (never a download),
driven headless by Playwright; every page's console errors fail the test; screenshots go to
the test's temp folder.

`ui` is a signed-in page on the shared platform (`kaon`); `browser` is the one Chromium of the
test module. The module signs in through the form once (`open_ui`'s first call) and each later
page starts from that session's cookie in a context of its own (test_signin.py signs in and out
through the form in every test). `Ui.go` and `Ui.follow` wait for the page's load event: the
pages are rendered by the server and their scripts run before it (what a page asks later, an
htmx poll, a test waits for with a locator). Without /usr/bin/chromium the tests skip, except
under CI=true (a failure: `make setup` installs it).
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
            _SESSIONS.pop(chromium, None)
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
        """The page at `path`, loaded (its scripts have run); its response."""
        return self.page.goto(self.base + path, wait_until="load")

    def follow(self, target: Any) -> None:
        """Click `target` (a selector or a locator), which must lead to another page, and wait
        until that page has loaded."""
        with self.page.expect_navigation(wait_until="load"):
            if isinstance(target, str):
                self.page.click(target)
            else:
                target.click()

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
    form: bool = False,
) -> Ui:
    """A new browser context on `k`'s platform, signed in with `token` (default: the
    platform's). The platform's token signs in through the form once per browser (or every
    time with `form`); later contexts start from that session's cookies."""
    doc = k.server()
    assert doc is not None
    key = (doc["url"], str(k.home))
    saved = None if token or form else _SESSIONS.get(browser, {}).get(key)
    context = browser.new_context(viewport=viewport, storage_state=saved)
    page = context.new_page()
    shots.mkdir(parents=True, exist_ok=True)
    ui = Ui(page, doc["url"], shots)
    page.on("console", lambda m: ui.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: ui.errors.append(str(e)))
    if saved is None:
        ui.go("/ui/signin")
        page.fill("#token", token or (k.home / "token").read_text().strip())
        ui.follow("button[type=submit]")
        assert "/ui/signin" not in page.url, f"not signed in: {page.url}"
        if token is None:
            _SESSIONS.setdefault(browser, {})[key] = context.storage_state()
    return ui


# the platform's signed-in session (cookies) per browser and platform: (url, home) -> state
_SESSIONS: dict[Any, dict[tuple[str, str], Any]] = {}


@pytest.fixture
def ui(browser: Any, kaon: Kaon, tmp_path: Path) -> Iterator[Ui]:
    handle = open_ui(browser, kaon, tmp_path / "screenshots")
    try:
        yield handle
        assert handle.errors == [], f"console errors: {handle.errors}"
    finally:
        handle.page.context.close()
