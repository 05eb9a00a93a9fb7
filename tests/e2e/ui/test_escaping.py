"""HTML that users put in kaon (a commit message, a log line, a metric name) is shown as text
on every page that shows it: never markup, never a script that runs.

The check does not rely on the Content-Security-Policy (which would stop an inline script
anyway): it looks for the hostile markup as text on the page and for the elements it would have
made in the DOM. To cover a new page, add it to PAGES with the fields it shows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..helpers import Kaon
from .conftest import Ui, open_ui
from .story import Story, seed_000

pytestmark = pytest.mark.e2e

MARKUP = '<script>window.__pwned=1;alert(1)</script><img src=x onerror="window.__pwned=2">'
MESSAGE = f"commit {MARKUP}"
LOG = f"log {MARKUP}"
METRIC = f"metric {MARKUP}"

# (page, path template over the story's fields, the hostile texts it shows)
PAGES: list[tuple[str, str, tuple[str, ...]]] = [
    ("overview", "/ui/", (METRIC,)),
    ("workspace", "/ui/w/{workspace}", (METRIC,)),
    ("job", "/ui/jobs/{job}", (LOG, METRIC)),
    ("model", "/ui/w/{workspace}/models/{model}", (METRIC,)),
    ("commits", "/ui/repos/{repo}", (MESSAGE,)),
    ("commit", "/ui/repos/{repo}/commit/{commit}", (MESSAGE,)),
    ("compare", "/ui/w/{workspace}/compare?m={model}&m={other}", (METRIC,)),
]
# every image of the page loaded or failed (its onload/onerror ran), then one more task
SETTLED = """() => Promise.all([...document.images].map(i => i.complete ? null :
    new Promise(done => { i.addEventListener('load', done); i.addEventListener('error', done); })))
  .then(() => new Promise(done => setTimeout(done, 0)))"""
NOT_YET: set[str] = set()  # pages not built yet: skipped while they answer 404


@pytest.fixture(scope="module")
def hostile(kaon: Kaon, tmp_path_factory: pytest.TempPathFactory) -> Story:
    root = tmp_path_factory.mktemp("hostile")
    return seed_000(kaon, root, "hostile", message=MESSAGE, log_line=LOG, metric=METRIC)


@pytest.fixture
def page(browser: Any, kaon: Kaon, tmp_path: Path) -> Iterator[tuple[Ui, list[str]]]:
    handle = open_ui(browser, kaon, tmp_path / "shots")
    dialogs: list[str] = []
    handle.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        yield handle, dialogs
        assert handle.errors == [], f"console errors: {handle.errors}"
    finally:
        handle.page.context.close()


@pytest.mark.parametrize(("name", "template", "shows"), PAGES, ids=[p[0] for p in PAGES])
def test_html_from_users_is_shown_as_text(
    hostile: Story,
    page: tuple[Ui, list[str]],
    name: str,
    template: str,
    shows: tuple[str, ...],
) -> None:
    ui, dialogs = page
    response = ui.go(template.format(**hostile.fields))
    if response.status == 404 and name in NOT_YET:
        ui.errors.clear()
        pytest.skip(f"the {name} page is built on another branch")
    assert response.status == 200, f"{name}: {response.status}"
    ui.page.evaluate(SETTLED)  # an onerror handler would have fired by now
    text = ui.page.locator("body").inner_text()
    for hostile_text in shows:
        assert hostile_text in text, f"{name} does not show {hostile_text!r} as text"
    assert ui.page.locator("img[src=x]").count() == 0, f"{name}: the markup made an <img>"
    made = ui.page.evaluate(  # data for page scripts is JSON in a non-executable <script>
        "[...document.scripts].filter(s => s.type !== 'application/json'"
        " && s.textContent.includes('__pwned')).length"
    )
    assert made == 0, f"{name}: the markup made a <script>"
    html = ui.page.content()  # and that JSON cannot close its element early
    assert "</script><img" not in html and "<script>window.__pwned" not in html, name
    assert ui.page.evaluate("typeof window.__pwned") == "undefined"
    assert dialogs == []
    ui.shot(f"hostile-{name}")
