"""The jobs pages in Debian's Chromium: the live list, a job reaching JOB_SUCCESS with its log,
a grid search's trials table (sorted by the server, the best trial marked) and charts, kill
from the page, a missing job's 404 page."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..helpers import Kaon
from ..test_train import bundle, data
from .conftest import PHONE, Ui, open_ui

WORKSPACE = "uijobs"
TICKS = """#!/bin/sh
for i in 1 2 3; do echo "tick $i of the <b>log</b>"; sleep 0.3; done
mkdir -p "$1/model" "$1/metrics"
echo x > "$1/model/m"
echo '{"accuracy": 0.5}' > "$1/metrics/metrics.json"
"""
SLEEPS = """#!/bin/sh
echo "sleeping until killed"
sleep 600
"""
LONG = """#!/bin/sh
i=1
while [ $i -le 700 ]; do echo "line $i of a long log"; i=$((i+1)); done
mkdir -p "$1/model"
echo x > "$1/model/m"
"""
WAIT_MS = 120_000


@pytest.fixture(scope="module")
def search(kaon: Kaon, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A finished grid search of 3 trials (accuracy = c / 10: trial 1, c=9, is best)."""
    kaon.ok("workspace", "create", "-n", WORKSPACE)
    root = tmp_path_factory.mktemp("uijobs")
    space = root / "hp.json"
    space.write_text(json.dumps({"c": [3, 9, 5], "kernel": ["rbf"]}))
    with kaon.client() as c:
        job = c.train(
            WORKSPACE,
            source=bundle(root / "code"),
            data=data(root / "data"),
            hyperparams=space,
            parallelism=2,
        )
        yield c.wait(job, timeout=300)


def _deploy(kaon: Kaon, tmp: Path, train: str) -> str:
    with kaon.client() as c:
        return c.train(WORKSPACE, source=bundle(tmp / "code", train)).id


def _running(ui: Ui, job: str) -> None:
    """The job's page once it runs (the page reloads itself when the state changes)."""
    ui.go(f"/ui/jobs/{job}")
    ui.page.locator("#job-state").filter(has_text="JOB_RUNNING").wait_for(timeout=WAIT_MS)
    ui.page.locator("#log-train").filter(has_text="sleeping until killed").wait_for(timeout=WAIT_MS)


def test_the_list_shows_the_jobs_with_their_states(ui: Ui, search: Any) -> None:
    ui.go(f"/ui/w/{WORKSPACE}/jobs")
    assert ui.page.title() == f"Jobs of {WORKSPACE} · kaon"
    row = ui.page.locator("table.training tr", has_text=search.id)
    assert "JOB_SUCCESS" in row.inner_text() and "True" in row.inner_text()
    ui.shot("jobs")
    ui.follow(row.locator("a"))
    assert ui.page.url.endswith(f"/ui/jobs/{search.id}")


def test_watch_a_job_reach_success_with_its_log(
    ui: Ui, kaon: Kaon, search: Any, tmp_path: Path
) -> None:
    job = _deploy(kaon, tmp_path, TICKS)
    ui.go(f"/ui/jobs/{job}")  # building, running or done: the page follows until the end
    state = ui.page.locator("#job-state")
    state.filter(has_text="JOB_SUCCESS").wait_for(timeout=WAIT_MS)
    log = ui.page.locator("#log-train")
    log.filter(has_text="tick 3").wait_for(timeout=WAIT_MS)
    text = log.inner_text()
    assert [text.count(f"tick {i} of the <b>log</b>") for i in (1, 2, 3)] == [1, 1, 1]
    assert ui.page.locator("#log-train b").count() == 0  # the log's HTML is text
    assert "environment" in ui.page.locator("#log-build").inner_text()
    assert ui.page.locator("form.kill").count() == 0  # nothing left to kill
    model = ui.page.locator("a.model-link")
    assert model.count() == 1
    assert "/ui/w/uijobs/models/" in (model.get_attribute("href") or "")
    inputs = ui.page.locator("dl.inputs").inner_text()
    assert "/mnist:" in inputs and "/features:" in inputs
    ui.shot("job")


def test_a_long_log_shows_its_last_lines_then_all(
    ui: Ui, kaon: Kaon, search: Any, tmp_path: Path
) -> None:
    job = _deploy(kaon, tmp_path, LONG)
    with kaon.client() as c:
        c.wait(job, timeout=300)
    ui.go(f"/ui/jobs/{job}")
    log = ui.page.locator("#log-train")
    text = log.inner_text()
    assert len(text.splitlines()) == 500  # the last 500 lines only
    assert "line 700 of a long log" in text and "committed" in text.splitlines()[-1]
    assert "line 1 of a long log" not in text
    assert ui.page.locator("#log-build-cut").count() == 0  # a short log is whole
    ui.follow("#log-train-cut a:text-is('Show all')")
    log.filter(has_text="line 1 of a long log").wait_for(timeout=WAIT_MS)
    assert log.inner_text().count("of a long log") == 700
    assert ui.page.locator("#log-train-cut").count() == 0


def test_a_search_lists_its_trials_sorted_with_the_best_marked(ui: Ui, search: Any) -> None:
    ui.go(f"/ui/jobs/{search.id}")
    rows = ui.page.locator("table.trials tbody tr")
    assert rows.count() == 3
    best = ui.page.locator("table.trials tr.best")
    assert best.count() == 1 and best.get_attribute("id") == "trial-1"
    assert "accuracy = 0.9" in ui.page.locator(".best-trial").inner_text()
    ui.follow("table.trials th a:text-is('accuracy')")  # sort: the server orders the rows
    assert "sort=metric%3Aaccuracy" in ui.page.url
    ids = [r.get_attribute("id") for r in ui.page.locator("table.trials tbody tr").all()]
    assert ids == ["trial-0", "trial-2", "trial-1"]  # ascending: 0.3, 0.5, 0.9
    ui.follow("table.trials th a:text-is('accuracy ▲')")
    ids = [r.get_attribute("id") for r in ui.page.locator("table.trials tbody tr").all()]
    assert ids == ["trial-1", "trial-2", "trial-0"]
    assert ui.page.locator("#scatters .chart[data-param='c'] canvas").count() == 1
    assert ui.page.locator("#scatters .chart[data-param='kernel'] canvas").count() == 1
    assert ui.page.locator("#parallel canvas").count() == 1
    ui.shot("search")


def test_compare_two_trials(ui: Ui, search: Any) -> None:
    ui.go(f"/ui/jobs/{search.id}")
    ui.page.check("#trial-0 input[type=checkbox]")
    ui.page.check("#trial-1 input[type=checkbox]")
    ui.follow("button.compare")
    assert f"/ui/w/{WORKSPACE}/compare?m=" in ui.page.url
    header = ui.page.locator("table.compare thead").inner_text()
    assert search.trials[0].model_id in header and search.trials[1].model_id in header
    accuracy = ui.page.locator("table.compare tr.metrics", has_text="accuracy")
    assert "differs" in (accuracy.get_attribute("class") or "")
    assert accuracy.locator("td").all_inner_texts() == ["0.3", "0.9"]
    lock = ui.page.locator("table.compare tr.environment", has_text="lock")
    assert "differs" not in (lock.get_attribute("class") or "")  # same code, same lock
    ui.page.check("#only-differs")
    assert lock.is_hidden() and accuracy.is_visible()
    ui.shot("compare")


def test_the_outputs_of_some_trials_only(kaon: Kaon, search: Any) -> None:
    """A model page of a search asks its own trial's files, not the 1,000 trials' of it."""
    with kaon.client() as c:
        every = c.job_outputs(search.id)["trials"]
        some = c.job_outputs(search.id, trials=[2, 0])["trials"]
        assert [t["index"] for t in some] == [0, 2] and some == [every[0], every[2]]
        assert some[0]["files"] and some[0]["model_id"] == search.trials[0].model_id


def test_kill_a_running_job_from_its_page(ui: Ui, kaon: Kaon, search: Any, tmp_path: Path) -> None:
    job = _deploy(kaon, tmp_path, SLEEPS)
    _running(ui, job)
    ui.page.once("dialog", lambda dialog: dialog.accept())
    ui.page.click("form.kill button")
    ui.page.locator("#job-state").filter(has_text="JOB_KILLED").wait_for(timeout=WAIT_MS)
    with kaon.client() as c:
        assert str(c.get_job(job).state) == "JOB_KILLED"
    assert ui.page.locator("form.kill").count() == 0
    ui.shot("killed")


def test_a_refused_kill_dialog_kills_nothing(
    ui: Ui, kaon: Kaon, search: Any, tmp_path: Path
) -> None:
    job = _deploy(kaon, tmp_path, SLEEPS)
    try:
        _running(ui, job)
        ui.page.once("dialog", lambda dialog: dialog.dismiss())
        ui.page.click("form.kill button")
        ui.page.wait_for_load_state("networkidle")
        assert ui.page.url.endswith(f"/ui/jobs/{job}")
        with kaon.client() as c:
            assert not c.get_job(job).state.finished
    finally:
        with kaon.client() as c:
            c.kill_job(job)


def _paused(ui: Ui, at_least: int) -> None:
    """Run the page's clock on until it skipped `at_least` polls in all (static/live.js counts
    them); its timers fire as they would have in that time, without waiting it out."""
    deadline = time.monotonic() + WAIT_MS / 1000
    count = "() => Number(document.documentElement.dataset.pausedPolls || 0)"
    while ui.page.evaluate(count) < at_least:
        assert time.monotonic() < deadline, "the hidden page never skipped a poll"
        ui.page.clock.run_for(500)


def _hide(ui: Ui, hidden: bool) -> None:
    """The tab hidden or shown again, as the browser says it (document.hidden + the event)."""
    ui.page.evaluate(
        "(hidden) => { Object.defineProperty(document, 'hidden',"
        " {value: hidden, configurable: true});"
        " document.dispatchEvent(new Event('visibilitychange')); }",
        hidden,
    )


def test_polls_pause_while_the_tab_is_hidden(
    ui: Ui, kaon: Kaon, search: Any, tmp_path: Path
) -> None:
    job = _deploy(kaon, tmp_path, SLEEPS)
    try:
        ui.page.clock.install()  # the page's timers: real time, run on at will below
        _running(ui, job)  # its state polls every 2 s, its log follows
        asked: list[str] = []
        ui.page.on(
            "request", lambda r: asked.append(r.url) if f"/ui/jobs/{job}/" in r.url else None
        )
        _hide(ui, True)
        _paused(ui, 2)  # what was on its way before has come back
        ui.page.wait_for_timeout(500)
        asked.clear()
        _paused(ui, 5)
        ui.page.wait_for_timeout(500)  # a request a skipped poll made would be seen by now
        assert asked == []  # skipped polls asked nothing
        log = ui.page.expect_request(lambda r: f"/ui/jobs/{job}/log" in r.url, timeout=WAIT_MS)
        state = ui.page.expect_request(lambda r: f"/ui/jobs/{job}/state" in r.url, timeout=WAIT_MS)
        with state, log:
            _hide(ui, False)  # the log's poller asks again at once, the state at its tick
            ui.page.clock.run_for(2000)
    finally:
        with kaon.client() as c:
            c.kill_job(job)


def test_a_missing_job_is_a_clear_404_page(ui: Ui) -> None:
    response = ui.go("/ui/jobs/0123456789abcdef0123456789abcdef")
    assert response.status == 404
    text = ui.page.locator(".problem-page").inner_text()
    assert "0123456789abcdef" in text and "deleted" in text
    assert "Traceback" not in ui.page.content()
    ui.errors.clear()  # the browser logs the 404 itself as a failed resource


def test_the_search_page_is_usable_on_a_phone(
    browser: Any, kaon: Kaon, search: Any, tmp_path: Path
) -> None:
    phone = open_ui(browser, kaon, tmp_path / "screenshots", PHONE)
    try:
        phone.go(f"/ui/jobs/{search.id}")
        assert phone.page.locator("table.trials tbody tr").count() == 3
        assert phone.page.locator("#parallel canvas").count() == 1
        width = phone.page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page scrolls sideways ({width} px)"
        phone.shot("search-phone")
        assert phone.errors == [], f"console errors: {phone.errors}"
    finally:
        phone.page.context.close()


def test_the_server_says_how_long_each_page_took(ui: Ui, search: Any) -> None:
    for path in (f"/ui/w/{WORKSPACE}/jobs", f"/ui/jobs/{search.id}"):
        response = ui.go(path)
        assert re.fullmatch(r"page;dur=\d+\.\d", response.headers["server-timing"])
