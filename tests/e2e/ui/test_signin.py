"""Sign-in, the overview and the pages a wrong link or token leads to, in Debian's Chromium."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..helpers import Kaon
from .conftest import DESKTOP, PHONE, Ui, open_ui


@pytest.fixture
def ui(browser: Any, kaon: Kaon, tmp_path: Path) -> Iterator[Ui]:
    """Signed in through the form (not from a saved session), as a user does."""
    handle = open_ui(browser, kaon, tmp_path / "screenshots", form=True)
    try:
        yield handle
        assert handle.errors == [], f"console errors: {handle.errors}"
    finally:
        handle.page.context.close()


def test_signed_in_the_overview_lists_the_workspaces(ui: Ui, kaon: Kaon) -> None:
    kaon.ok("workspace", "create", "-n", "uiwelcome")
    ui.go("/ui/")
    assert ui.page.title() == "Workspaces · kaon"
    assert ui.page.locator("a", has_text="uiwelcome").count() == 1
    ui.shot("overview")
    ui.follow("text=uiwelcome")
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
        page.wait_for_url("**/ui/w/uiwelcome")
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


def test_a_user_signs_in_with_their_token_which_the_ui_never_shows(
    browser: Any, kaon: Kaon, tmp_path: Path
) -> None:
    made = json.loads(kaon.ok("user", "add", "uiuser", "--json"))
    secret = made["secret"]
    handle = open_ui(browser, kaon, tmp_path / "shots", token=secret)
    try:
        handle.page.clock.install()  # the page's timers: real time, run on at will below
        handle.go("/ui/")
        assert handle.page.locator("header .user").inner_text() == "uiuser"
        assert secret not in handle.page.content()
        assert all(secret not in c["value"] or c["httpOnly"] for c in handle.page.context.cookies())
        assert handle.page.evaluate("document.cookie").find(secret) == -1  # HttpOnly
        # the token is revoked: the overview's next refresh sends the page to sign in again
        kaon.ok("auth", "token", "revoke", made["token"]["id"], env={"KAON_TOKEN": secret})
        handle.page.clock.run_for(3000)  # its refresh every 3 s, without waiting it out
        handle.page.wait_for_url("**/ui/signin?next=/ui/", timeout=60_000)
        handle.go("/ui/w/uiwelcome")  # and so does any page
        assert "/ui/signin" in handle.page.url
        assert handle.page.locator("#token").count() == 1
        assert handle.errors == []
    finally:
        handle.page.context.close()


def test_sign_out_forgets_the_session(ui: Ui) -> None:
    ui.go("/ui/")
    ui.follow("form.signout button")
    assert "/ui/signin" in ui.page.url
    ui.go("/ui/")
    assert "/ui/signin" in ui.page.url  # the cookie went too


def test_every_page_has_security_headers_and_a_foreign_form_is_refused(kaon: Kaon) -> None:
    doc = kaon.server()
    assert doc is not None
    url = doc["url"]
    with urllib.request.urlopen(f"{url}/ui/signin") as r:
        csp = r.headers["Content-Security-Policy"]
        scripts = next(d for d in csp.split("; ") if d.startswith("script-src"))
        assert scripts == "script-src 'self'"  # no inline script, no eval
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Server-Timing"].startswith("page;dur=")
    token = (kaon.home / "token").read_text().strip()
    body = urllib.parse.urlencode({"token": token, "next": "/ui/"}).encode()
    forged = urllib.request.Request(
        f"{url}/ui/signin", body, {"Origin": "http://evil.example"}, method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged)
    with refused.value as answer:
        assert answer.code == 403
        assert "another site" in answer.read().decode()
        assert "set-cookie" not in {k.lower() for k in answer.headers}
    host = urllib.parse.urlsplit(url).netloc
    same = urllib.request.Request(
        f"{url}/ui/signin", body, {"Origin": f"http://{host}"}, method="POST"
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    with pytest.raises(urllib.error.HTTPError) as moved:
        urllib.request.build_opener(NoRedirect).open(same)
    with moved.value as answer:
        assert answer.code == 303 and answer.headers["Location"] == "/ui/"


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_navigation_works_on_a_desktop_and_a_phone(
    browser: Any, kaon: Kaon, tmp_path: Path, size: str
) -> None:
    kaon.ok("workspace", "create", "-n", f"uinav_{size}")
    handle = open_ui(browser, kaon, tmp_path / "shots", DESKTOP if size == "desktop" else PHONE)
    try:
        handle.go("/ui/")
        assert not handle.overflows()
        handle.shot(f"overview-{size}")
        nav = handle.page.locator("header nav")
        assert nav.is_visible()
        for name in ("Workspaces", "Repos", "Pipelines"):
            assert nav.get_by_role("link", name=name).is_visible()
        assert handle.page.locator("form.signout button").is_visible()
        assert nav.locator("[aria-current=page]").inner_text() == "Workspaces"
        handle.follow(f"text=uinav_{size}")
        assert handle.page.url.endswith(f"/ui/w/uinav_{size}")
        assert not handle.overflows()
        handle.shot(f"workspace-{size}")
        assert handle.errors == []
    finally:
        handle.page.context.close()


def test_the_overview_refreshes_itself(ui: Ui, kaon: Kaon) -> None:
    ui.page.clock.install()  # the page's timers: real time, run on at will below
    ui.go("/ui/")
    assert ui.page.locator("[data-workspace=uilater]").count() == 0
    ui.page.evaluate("() => { window.sameDocument = true; }")  # a reload would forget it
    kaon.ok("workspace", "create", "-n", "uilater")
    # htmx asks again every 3 s: the new workspace appears without a reload
    ui.page.clock.run_for(3000)
    ui.page.wait_for_selector("[data-workspace=uilater]", timeout=30_000)
    # (the clock fakes `performance`: its navigation entries are not there to count)
    assert ui.page.evaluate("window.sameDocument") is True
