"""The model pages in Debian's Chromium: a model's metrics, files, job, endpoints and
provenance link; compare models side by side; bad compare links."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from ..helpers import Kaon
from ..test_train import bundle, data
from .conftest import Ui

WORKSPACE = "uimodels"
OTHER = """#!/usr/bin/env python3
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
(out / "model").mkdir(parents=True)
(out / "model" / "model.json").write_text("{}")
(out / "metrics").mkdir()
(out / "metrics" / "metrics.json").write_text(json.dumps({"accuracy": 0.7, "<i>loss</i>": 1}))
"""


@pytest.fixture(scope="module")
def jobs(kaon: Kaon, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Any]]:
    """Two finished jobs of different code and data: a model each."""
    kaon.ok("workspace", "create", "-n", WORKSPACE)
    root = tmp_path_factory.mktemp("uimodels")
    with kaon.client() as c:
        first = c.wait(
            c.train(WORKSPACE, source=bundle(root / "a"), data=data(root / "d1")), timeout=300
        )
        second = c.wait(
            c.train(WORKSPACE, source=bundle(root / "b", OTHER), data=data(root / "d2", rows=5)),
            timeout=300,
        )
        yield [first, second]


def test_a_model_shows_its_metrics_files_job_and_provenance(ui: Ui, jobs: list[Any]) -> None:
    job = jobs[1]
    model = job.trials[0].model_id
    ui.go(f"/ui/w/{WORKSPACE}/models/{model}")
    assert ui.page.title() == f"Model {model} · kaon"
    metrics = ui.page.locator("table.metrics").inner_text()
    assert "accuracy\t0.7" in metrics and "<i>loss</i>" in metrics  # a metric's name is text
    files = ui.page.locator("table.files").inner_text()
    assert "model/model.json" in files and "metrics/metrics.json" in files
    assert "No endpoint serves it" in ui.page.content()
    link = ui.page.locator("a.provenance-link").get_attribute("href")
    assert unquote(link or "") == f"/ui/provenance/model/{WORKSPACE}/{model}"
    ui.shot("model")
    ui.follow("a.job-link")
    assert ui.page.url.endswith(f"/ui/jobs/{job.id}")


def test_compare_shows_data_and_code_differences(ui: Ui, jobs: list[Any]) -> None:
    a, b = (j.trials[0].model_id for j in jobs)
    ui.go(f"/ui/w/{WORKSPACE}/compare?m={a}&m={b}")
    for group in ("data", "source"):
        commit = ui.page.locator(f"table.compare tr.{group}", has_text="commit")
        assert "differs" in (commit.get_attribute("class") or "")
    changes = ui.page.locator("table.changes")
    assert changes.count() == 2  # data, then code
    assert "training.csv" in changes.nth(0).inner_text()
    assert "train" in changes.nth(1).inner_text()
    ui.shot("compare-models")


@pytest.mark.parametrize(
    ("query", "says"),
    [("?m=only-one", "two or more models"), ("?m=a&m=b", "invalid model id 'a'")],
)
def test_a_bad_compare_link_says_what_is_wrong(
    ui: Ui, jobs: list[Any], query: str, says: str, tmp_path: Path
) -> None:
    response = ui.go(f"/ui/w/{WORKSPACE}/compare{query}")
    assert response.status in (400, 404)
    assert says in ui.page.locator(".problem-page").inner_text()
    assert "Traceback" not in ui.page.content()
    ui.errors.clear()  # the browser logs the error status itself as a failed resource


def test_a_missing_model_is_a_clear_404_page(ui: Ui, jobs: list[Any]) -> None:
    response = ui.go(f"/ui/w/{WORKSPACE}/models/00000_00000:000000")
    assert response.status == 404
    assert "deleted" in ui.page.locator(".problem-page").inner_text()
    ui.errors.clear()
