"""GET /v1/jobs/{job}/trials and GET /v1/jobs/{job}?trials=false through the SDK
(`job_trials`, `job_summary`) against the real server: a search's trials paged, sorted, the
best by its objective, points for charts."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from kaon.client import Client
from kaon.client.models import JobInfo
from kaon.core.errors import InvalidInput, NotFound
from kaon.core.jobs import JobState

TRAIN = """#!/bin/sh
mkdir -p "$1/model" "$1/metrics"
cp params.json "$1/model/params.json"
python3 -c 'import json; p = json.load(open("params.json")); print(json.dumps({"score": p["a"] * 2}))' > "$1/metrics/metrics.json"
"""


@pytest.fixture(scope="module")
def search(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> JobInfo:
    """A finished grid search: a = 1, 3, 2, 5 (score 2a), kernel fixed."""
    root: Path = tmp_path_factory.mktemp("trials")
    model = root / "code" / "proj" / "model"
    model.mkdir(parents=True)
    (model / "train").write_text(TRAIN)
    (model / "train").chmod(0o755)
    (model / "requirements.txt").write_text("")
    (root / "data").mkdir()
    (root / "data" / "x.csv").write_text("1\n")
    ws = "trials_" + uuid.uuid4().hex[:8]
    with Client(live_server.url, live_server.token) as c:
        c.create_workspace(ws)
        space = {"a": [1, 3, 2, 5], "kernel": ["rbf"]}
        job = c.train(ws, source=root / "code", data=root / "data", hyperparams=space)
        return c.wait(job, timeout=300)


def test_a_page_of_trials_sorted_with_the_best(client: Client, search: JobInfo) -> None:
    assert search.state == JobState.SUCCESS, search.reason
    page = client.job_trials(search.id, sort="metric:score", descending=True, limit=2)
    assert (page.total, page.offset, page.sort, page.order) == (4, 0, "metric:score", "desc")
    assert [t.index for t in page.trials] == [3, 1]  # a = 5, 3
    assert (page.metric, page.maximize, page.metrics, page.params) == (
        "score",
        True,
        ["score"],
        ["a", "kernel"],
    )
    assert page.best is not None and page.best.index == 3
    assert page.points == []  # only when asked
    rest = client.job_trials(search.id, sort="metric:score", descending=True, offset=2, limit=2)
    assert [t.index for t in rest.trials] == [2, 0]
    assert [t.index for t in client.job_trials(search.id, sort="param:a").trials] == [0, 2, 1, 3]


def test_points_for_charts_and_a_chosen_metric(client: Client, search: JobInfo) -> None:
    page = client.job_trials(search.id, limit=0, points=True)
    assert page.trials == []
    by_index = {p[0]: p for p in page.points}
    model = {t.index: t.model_id for t in search.trials}
    assert by_index == {i: [i, 2.0 * a, model[i], a, "rbf"] for i, a in enumerate([1, 3, 2, 5])}
    again = client.job_trials(search.id, metric="no-such-metric")
    assert again.metric == "score"  # a metric no trial reports: the search's default


def test_a_summary_leaves_the_trials_out(client: Client, search: JobInfo) -> None:
    summary = client.job_summary(search.id)
    assert summary.trials == [] and summary.id == search.id and summary.hyperopt
    assert summary.process_time == pytest.approx(search.process_time)
    assert len(client.get_job(search.id).trials) == 4  # unchanged without the flag


def test_bad_trials_requests_are_refused(client: Client, search: JobInfo) -> None:
    with pytest.raises(NotFound):
        client.job_trials("0" * 32)
    with pytest.raises(InvalidInput):
        client.job_trials(search.id, limit=5000)
    assert json.dumps(client.job_trials(search.id, sort="bogus").sort) == '"index"'
