"""The workspaces overview and a workspace's page on the seed-000 story: each item with its
state, linking to its own page; usable on a phone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..helpers import Kaon
from .conftest import PHONE, Ui, open_ui
from .story import Story, seed_000

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def story(kaon: Kaon, tmp_path_factory: pytest.TempPathFactory) -> Story:
    return seed_000(kaon, tmp_path_factory.mktemp("story"), "uihome")


@pytest.fixture
def phone(browser: Any, kaon: Kaon, tmp_path: Path) -> Iterator[Ui]:
    handle = open_ui(browser, kaon, tmp_path / "shots", PHONE)
    try:
        yield handle
        assert handle.errors == [], f"console errors: {handle.errors}"
    finally:
        handle.page.context.close()


def hrefs(ui: Ui, selector: str) -> list[str]:
    return list(ui.page.eval_on_selector_all(selector, "els => els.map(e => e.pathname)"))


def test_the_overview_links_every_item_to_its_page(ui: Ui, story: Story) -> None:
    ui.go("/ui/")
    space = ui.page.locator(f"[data-workspace={story.workspace}]")
    jobs = f"[data-workspace={story.workspace}] ul.jobs a"
    assert hrefs(ui, jobs) == [f"/ui/jobs/{story.job['id']}"]
    assert "JOB_SUCCESS" in space.locator("ul.jobs").inner_text()
    assert "search, 3 trials" in space.locator("ul.jobs").inner_text()
    models = hrefs(ui, f"[data-workspace={story.workspace}] ul.models li > a")
    assert sorted(models) == sorted(
        f"/ui/w/{story.workspace}/models/{t['model_id']}" for t in story.job["trials"]
    )
    assert "accuracy=0.9" in space.locator("ul.models").inner_text()
    endpoints = hrefs(ui, f"[data-workspace={story.workspace}] ul.endpoints a")
    assert endpoints == [f"/ui/endpoints/{story.endpoint}"]
    assert "PIPELINE_RUNNING" in space.locator("ul.endpoints").inner_text()
    assert "1/1 ready" in space.locator("ul.endpoints").inner_text()
    ui.shot("overview")


def test_a_workspace_page_on_a_phone(phone: Ui, story: Story) -> None:
    phone.go(f"/ui/w/{story.workspace}")
    assert phone.page.title() == f"Workspace {story.workspace} · kaon"
    assert hrefs(phone, "ul.jobs a") == [f"/ui/jobs/{story.job['id']}"]
    assert f"/ui/repos/{story.workspace}-data" in hrefs(phone, "p.live a")
    assert not phone.overflows()
    phone.shot("workspace-phone")
    phone.go("/ui/")
    assert not phone.overflows()
    phone.shot("overview-phone")


def test_the_api_sends_the_newest_jobs_with_their_last_trials(kaon: Kaon, story: Story) -> None:
    """What keeps the overview fast with a search of 1,000 trials: only what it shows."""
    client = kaon.client()
    try:
        (job,) = client.list_jobs(story.workspace, limit=1, trials=2)
        assert job.id == story.job["id"] and job.trial_count == 3 and len(job.trials) == 2
        last = sorted((t["finished"] for t in story.job["trials"]), reverse=True)[:2]
        assert [t.finished for t in job.trials] == last
        (whole,) = client.list_jobs(story.workspace)
        assert whole.trial_count == 3 and len(whole.trials) == 3
    finally:
        client.close()
