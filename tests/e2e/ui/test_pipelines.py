"""The pipeline pages in Debian's Chromium: the list, the DAG (each stage with its last job's
state and progress, linked), a job with its failed datum listed first and its logs, the jobs
of one global id, a missing pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..helpers import Kaon, spec_file, wait_jobs
from .conftest import PHONE, Ui, open_ui

pytestmark = pytest.mark.e2e

FRAGILE = """
pipeline: {name: uifragile}
description: "copies <b>good</b> files"
input: {pfs: {repo: uiflaky, name: in, glob: "/*"}}
transform:
  cmd: [/bin/bash]
  stdin:
    - 'if grep -q bad /pfs/in/*; then echo "boom: <script>bad</script> input" >&2; exit 3; fi'
    - cp /pfs/in/* /pfs/out/
---
pipeline: {name: uiafter}
input: {pfs: {repo: uifragile, glob: "/"}}
transform:
  cmd: [/bin/bash]
  stdin: [cp -r /pfs/uifragile/. /pfs/out/]
"""


@pytest.fixture(scope="module")
def ran(kaon: Kaon, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two pipelines; a commit of three files, one of which fails its datum."""
    tmp = tmp_path_factory.mktemp("uipipelines")
    kaon.ok("repo", "create", "uiflaky")
    kaon.ok("create", "pipeline", "-f", str(spec_file(tmp, FRAGILE)))
    data = tmp / "data"
    data.mkdir()
    for name, text in (("a.txt", "fine\n"), ("b.txt", "fine\n"), ("z.txt", "bad\n")):
        (data / name).write_text(text)
    kaon.ok("put", "file", "uiflaky@master:/", "-f", str(data), "-r")
    gid = kaon.json("list", "commit", "uiflaky@master")[0]["id"]
    jobs = wait_jobs(kaon, gid, 2)
    assert jobs["uifragile"]["state"] == "JOB_FAILURE", jobs
    return {"gid": gid, "jobs": jobs}


def test_the_pipelines_list_and_its_dag(ui: Ui, ran: dict[str, Any]) -> None:
    response = ui.go("/ui/pipelines")
    assert response.status == 200
    rows = ui.page.inner_text("#pipelines")
    assert "uifragile" in rows and "uiafter" in rows and "uiflaky:/*" in rows
    links = ui.page.eval_on_selector_all(
        "#graph svg a", "els => els.map(a => a.getAttribute('xlink:href'))"
    )
    assert "/ui/pipelines/uifragile" in links and "/ui/repos/uiflaky" in links
    ui.shot("pipelines")


def test_a_pipelines_failed_datum_is_listed_first_with_its_logs(
    ui: Ui, ran: dict[str, Any]
) -> None:
    response = ui.go("/ui/pipelines/uifragile")
    assert response.status == 200
    drawing = ui.page.text_content("#graph svg") or ""
    assert "uifragile" in drawing and "failure" in drawing
    jobs = ui.page.inner_text("#jobs")
    assert ran["gid"][:12] in jobs and "failure" in jobs
    statuses = ui.page.locator("#datums tbody td:nth-child(3)").all_inner_texts()
    assert statuses[0] == "failed" and statuses[1:] == ["success", "success"], statuses
    assert "z.txt" in ui.page.locator("#datums tbody tr").first.inner_text()
    log = ui.page.inner_text("#log")
    assert "boom: <script>bad</script> input" in log  # shown as text, never run
    assert ui.page.locator("#log script").count() == 0
    siblings = ui.page.inner_text("#siblings")
    assert "uifragile" in siblings and "uiafter" in siblings and "unrunnable" in siblings
    assert ui.page.inner_text("#datums").count("logs") == 3
    ui.shot("pipeline-failed-datum")
    # one good datum's logs
    ui.follow(ui.page.locator("#datums tbody tr").nth(1).locator("a", has_text="logs"))
    assert "datum=" in ui.page.url and "Logs of datum" in ui.page.inner_text("#logs")
    # the downstream stage, through the jobs of the global id
    ui.follow("#siblings a:text('uiafter')")
    assert ui.page.url.endswith(f"/ui/pipelines/uiafter?job={ran['gid']}")
    assert "unrunnable" in ui.page.inner_text("#job-facts")


def test_the_dag_shows_each_stages_last_job_and_progress(ui: Ui, ran: dict[str, Any]) -> None:
    ui.go("/ui/pipelines/uiafter")
    texts = ui.page.text_content("#graph svg") or ""
    assert "uifragile" in texts and "uiafter" in texts and "uiflaky" in texts
    job = ran["jobs"]["uifragile"]  # as `kaon list job` shows it
    assert job["progress"] in texts and "unrunnable" in texts and "failure" in texts


def test_on_a_phone_the_pipeline_page_is_usable(
    browser: Any, kaon: Kaon, ran: dict[str, Any], tmp_path: Path
) -> None:
    phone = open_ui(browser, kaon, tmp_path / "screenshots", PHONE)
    try:
        phone.go("/ui/pipelines/uifragile")
        assert phone.page.locator("#datums").count() == 1
        assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        phone.shot("pipeline-phone")
        assert phone.errors == []
    finally:
        phone.page.context.close()


def test_a_missing_pipeline_is_a_clear_page(ui: Ui) -> None:
    response = ui.go("/ui/pipelines/nosuchpipeline")
    assert response.status == 404
    assert "nosuchpipeline" in ui.page.inner_text(".problem") and "Traceback" not in (
        ui.page.content()
    )
    ui.errors.clear()  # the browser logs the 404 as a failed resource
