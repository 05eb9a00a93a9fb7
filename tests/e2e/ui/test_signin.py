"""Sign-in, the overview and the pages a wrong link or token leads to, in Debian's Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..helpers import Kaon
from .conftest import Ui


def test_signed_in_the_overview_lists_the_workspaces(ui: Ui, kaon: Kaon) -> None:
    kaon.ok("workspace", "create", "-n", "uiwelcome")
    ui.go("/ui/")
    assert ui.page.title() == "Workspaces · kaon"
    assert ui.page.locator("a", has_text="uiwelcome").count() == 1
    ui.shot("overview")
    ui.page.click("text=uiwelcome")
    ui.page.wait_for_load_state("networkidle")
    assert ui.page.url.endswith("/ui/w/uiwelcome")
    assert "No jobs yet" in ui.page.content()


def test_a_wrong_token_is_refused_and_asked_again(browser: Any, kaon: Kaon) -> None:
    doc = kaon.server()
    assert doc is not None
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(doc["url"] + "/ui/w/uiwelcome")  # no session: sign in first, then back here
        assert "/ui/signin" in page.url
        page.fill("#token", "not-a-token")
        page.click("button[type=submit]")
        assert "refused" in page.locator(".problem").inner_text()
        page.fill("#token", (kaon.home / "token").read_text().strip())
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert page.url.endswith("/ui/w/uiwelcome")
    finally:
        context.close()


def test_a_link_to_something_missing_is_a_clear_page(ui: Ui, tmp_path: Path) -> None:
    response = ui.go("/ui/w/nosuchspace")
    assert response.status == 404
    text = ui.page.locator(".problem-page").inner_text()
    assert "nosuchspace" in text and "deleted" in text
    assert "Traceback" not in ui.page.content()
    ui.errors.clear()  # the 404 itself is logged by the browser as a failed resource
