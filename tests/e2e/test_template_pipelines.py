"""The shipped `pipelines` template through the real CLI: `kaon template get`, its specs
created as they are, its data put, one global id linking the three stages, metrics.json made,
and one more file processed alone (the other datums skipped)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import Kaon, wait_jobs

pytestmark = pytest.mark.e2e


def test_template_pipelines_run_end_to_end(kaon: Kaon, tmp_path: Path) -> None:
    kaon.ok("template", "get", "--name", "pipelines", "-o", str(tmp_path / "templates"))
    root = tmp_path / "templates" / "pipelines"
    data = root / "data"
    for repo in ("raw", "params", "holdout"):
        kaon.ok("repo", "create", repo)
    kaon.ok("put", "file", "params@master:/hp.json", "-f", str(data / "params" / "hp.json"))
    kaon.ok("put", "file", "holdout@master:/", "-f", str(data / "holdout"), "-r")
    kaon.ok("create", "pipeline", "-f", str(root / "specs.yaml"))
    kaon.ok("put", "file", "raw@master:/", "-f", str(data / "raw"), "-r")
    first = kaon.json("list", "commit", "raw@master")[0]["id"]

    jobs = wait_jobs(kaon, first, 3)
    assert sorted(jobs) == ["evaluate", "train", "transform"]
    assert {j["state"] for j in jobs.values()} == {"JOB_SUCCESS"}, jobs
    assert {j["id"] for j in jobs.values()} == {first}
    assert jobs["transform"]["counts"]["processed"] == 4
    # the commit set of the global id: the raw commit and one output commit per stage
    repos = sorted(c["repo"] for c in kaon.json("list", "commit", first))
    assert repos == ["evaluate", "raw", "train", "transform"]

    out = tmp_path / "metrics.json"
    kaon.ok("get", "file", "evaluate@master:/metrics.json", "-o", str(out))
    metrics = json.loads(out.read_text())
    assert (metrics["rows"], metrics["trained_on"]) == (40, 188)  # 4 files, NA rows dropped
    hp = tmp_path / "hp.json"
    kaon.ok("get", "file", "train@master:/hp.json", "-o", str(hp))
    assert hp.read_bytes() == (data / "params" / "hp.json").read_bytes()

    kaon.ok("put", "file", "raw@master:/part-05.csv", "-f", str(data / "more" / "part-05.csv"))
    second = kaon.json("list", "commit", "raw@master")[0]["id"]
    again = wait_jobs(kaon, second, 3)
    assert {j["state"] for j in again.values()} == {"JOB_SUCCESS"}, again
    counts = again["transform"]["counts"]
    assert (counts["processed"], counts["skipped"], counts["total"]) == (1, 4, 5)
