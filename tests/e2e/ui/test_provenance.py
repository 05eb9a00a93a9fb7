"""The provenance pages in Debian's Chromium: a model's graph drawn by Graphviz, every node a
link to its page (click from the model to its data), an endpoint's, a commit's subvenance,
the phone screen, and what a wrong link shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from ..helpers import Kaon
from .conftest import PHONE, Ui, open_ui
from .served import served

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def made(kaon: Kaon, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return served(kaon, tmp_path_factory.mktemp("uiserved"))


def hrefs(ui: Ui) -> list[str]:
    """The links of the drawn graph's nodes (Graphviz writes them as xlink:href)."""
    found = ui.page.eval_on_selector_all(
        "#graph svg a",
        "els => els.map(a => a.getAttribute('xlink:href') || a.getAttribute('href'))",
    )
    return [link for link in found if link]


def test_open_the_models_provenance_and_click_from_the_model_to_its_data(
    ui: Ui, made: dict[str, Any]
) -> None:
    ws, model, job = made["workspace"], made["model"], made["job"]
    repo, commit = made["data"]
    response = ui.go(f"/ui/provenance/model/{ws}/{model}")
    assert response.status == 200
    assert ui.page.locator("#graph svg").count() == 1
    links = hrefs(ui)
    assert f"/ui/jobs/{job}" in links and f"/ui/w/{ws}/models/{model}" in links
    assert f"/ui/repos/{repo}/tree/{commit}/" in links
    kinds = ui.page.locator("#nodes tbody td:first-child").all_inner_texts()
    assert {"data", "code", "environment", "job", "model"} <= set(kinds)
    timing = response.headers["server-timing"]
    assert timing.startswith("page;dur=")
    ui.shot("provenance-model")
    # the data node, clicked in the drawing itself (pan and zoom must leave links working)
    node = ui.page.locator(f'#graph svg a[*|href="/ui/repos/{repo}/tree/{commit}/"]')
    ui.follow(node.first)
    assert ui.page.url.endswith(f"/ui/repos/{repo}/tree/{commit}/")
    if "Not found" in ui.page.title():  # the repos pages are another module's: not yet here
        ui.errors.clear()


def test_the_graph_pans_and_zooms(ui: Ui, made: dict[str, Any]) -> None:
    ui.go(f"/ui/provenance/model/{made['workspace']}/{made['model']}")
    viewport = ui.page.locator("#graph svg .svg-pan-zoom_viewport")
    assert viewport.count() == 1  # svg-pan-zoom took the drawing
    before = viewport.get_attribute("transform")
    assert before
    ui.page.click("#svg-pan-zoom-zoom-in")
    # svg-pan-zoom applies the new matrix on the next animation frame: wait for it (5 s at most)
    expect(viewport).not_to_have_attribute("transform", before, timeout=5000)


def test_an_endpoints_provenance_shows_serving_and_training(ui: Ui, made: dict[str, Any]) -> None:
    name = made["endpoint"]
    ui.go(f"/ui/provenance/endpoint/{name}")
    links = hrefs(ui)
    assert f"/ui/w/{made['workspace']}/models/{made['model']}" in links
    assert any(link.startswith(f"/ui/endpoints/{name}") for link in links)
    kinds = set(ui.page.locator("#nodes tbody td:first-child").all_inner_texts())
    assert {"serve code", "endpoint", "model", "data"} <= kinds
    ui.shot("provenance-endpoint")


def test_a_data_commits_subvenance_lists_what_was_made_from_it(
    ui: Ui, made: dict[str, Any]
) -> None:
    repo, commit = made["data"]
    ui.go(f"/ui/provenance/commit/{repo}@{commit[:12]}")
    assert ui.page.title().startswith(f"Made from {repo}@{commit[:12]}")
    links = hrefs(ui)
    assert f"/ui/jobs/{made['job']}" in links
    assert f"/ui/w/{made['workspace']}/models/{made['model']}" in links
    ui.shot("provenance-subvenance")


def test_on_a_phone_the_graph_fits_the_screen(
    browser: Any, kaon: Kaon, made: dict[str, Any], tmp_path: Path
) -> None:
    phone = open_ui(browser, kaon, tmp_path / "screenshots", PHONE)
    try:
        phone.go(f"/ui/provenance/model/{made['workspace']}/{made['model']}")
        box = phone.page.locator("#graph").bounding_box()
        assert box is not None and box["width"] <= PHONE["width"]
        width = phone.page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]  # nothing wider than the screen
        phone.shot("provenance-phone")
        assert phone.errors == []
    finally:
        phone.page.context.close()


def test_a_wrong_link_is_a_clear_page(ui: Ui, made: dict[str, Any]) -> None:
    response = ui.go(f"/ui/provenance/model/{made['workspace']}/nosuchmodel_000:000000")
    assert response.status in (400, 404)
    assert "Traceback" not in ui.page.content()
    assert ui.page.locator(".problem-page").count() == 1
    response = ui.go("/ui/provenance/commit/no-at-sign")
    assert response.status == 404 and "<repo>@<commit>" in ui.page.inner_text(".problem")
    ui.errors.clear()  # the browser logs each 404 as a failed resource


def test_a_commit_nothing_used_says_so(ui: Ui, kaon: Kaon, tmp_path: Path) -> None:
    kaon.ok("repo", "create", "uiunused")
    (tmp_path / "f.txt").write_text("x\n")
    kaon.ok("put", "file", "uiunused@master:/f.txt", "-f", str(tmp_path / "f.txt"))
    response = ui.go("/ui/provenance/commit/uiunused@master")
    assert response.status == 200
    assert "Nothing was made from this commit yet" in ui.page.inner_text("main")
    assert ui.page.locator("#graph").count() == 0
