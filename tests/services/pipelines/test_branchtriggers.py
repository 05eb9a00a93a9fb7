"""pfs `trigger` over the real services: a triggered input starts a job only once enough
commits (or bytes) arrived since the commit the last job took; `run pipeline` ignores it."""

from __future__ import annotations

import threading
from typing import Any

from kaon.core.pipelines.records import JobState
from kaon.wiring import Platform

from .test_service import WAIT, copy_spec, create, finished


def gated(name: str, repo: str, trigger: dict[str, Any], **extra: Any) -> dict[str, Any]:
    spec = copy_spec(name, repo, glob="/")
    spec["input"]["pfs"]["trigger"] = trigger
    return spec | extra


def job_inputs(platform: Platform, name: str) -> list[str | None]:
    """The commit each job of `name` took on its only input, oldest first."""
    jobs = platform.pipelines.jobs(name)
    for job in jobs:
        finished(platform, name, job.id)
    return [job.inputs[0].commit for job in reversed(jobs)]


def test_commits_trigger_runs_every_nth_commit(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("fb")
    create(platform, gated("retrain", "fb", {"commits": 3}))
    commits = [seed.commit("fb", {f"/{i}.json": b"{}"}) for i in range(7)]
    assert job_inputs(platform, "retrain") == [commits[2].id, commits[5].id]
    job = platform.pipelines.jobs("retrain")[0]
    assert finished(platform, "retrain", job.id).state is JobState.SUCCESS
    assert job.id == commits[5].id  # the global id: the commit that made it fire
    assert seed.read("retrain", "master", "/5.json") == b"{}"


def test_create_runs_only_when_the_trigger_already_holds(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("fb")
    seed.commit("fb", {"/a": b"1"})
    two = seed.commit("fb", {"/b": b"2"})
    create(platform, gated("few", "fb", {"commits": 3}), gated("enough", "fb", {"commits": 2}))
    assert job_inputs(platform, "few") == []
    assert job_inputs(platform, "enough") == [two.id]


def test_size_trigger_counts_bytes_since_the_last_job(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("fb")
    create(platform, gated("big", "fb", {"size": "1K"}))
    seed.commit("fb", {"/a": b"x" * 600})
    second = seed.commit("fb", {"/b": b"x" * 600})  # 1,200 bytes: fires
    seed.commit("fb", {"/c": b"x" * 1000})  # 1,000 since: not yet
    fourth = seed.commit("fb", {"/d": b"x" * 24})  # 1,024: fires
    assert job_inputs(platform, "big") == [second.id, fourth.id]


def test_all_needs_every_condition(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("fb")
    create(platform, gated("both", "fb", {"commits": 2, "size": 1000, "all": True}))
    seed.commit("fb", {"/a": b"x"})
    seed.commit("fb", {"/b": b"x"})  # 2 commits, 2 bytes: not yet
    third = seed.commit("fb", {"/c": b"x" * 1000})
    assert job_inputs(platform, "both") == [third.id]


def test_run_pipeline_ignores_the_trigger_and_counting_restarts(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("fb")
    create(platform, gated("retrain", "fb", {"commits": 3}))
    one = seed.commit("fb", {"/a": b"1"})
    run = platform.pipelines.run("retrain")
    assert finished(platform, "retrain", run.id).inputs[0].commit == one.id
    more = [seed.commit("fb", {f"/{i}": b"1"}) for i in range(3)]
    assert job_inputs(platform, "retrain") == [one.id, more[2].id]


def test_another_input_sees_the_triggered_one_where_it_last_was(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    for repo in ("fb", "data"):
        platform.repos.create_repo(repo)
    spec = {
        "pipeline": {"name": "both"},
        "input": {
            "cross": [
                {"pfs": {"repo": "data", "glob": "/"}},
                {"pfs": {"repo": "fb", "glob": "/", "trigger": {"commits": 2}}},
            ]
        },
        "transform": {"cmd": ["sh", "-c", "cp -r /pfs/fb/. /pfs/out/"]},
    }
    create(platform, spec)
    seed.commit("fb", {"/a": b"1"})
    fired = seed.commit("fb", {"/b": b"1"})
    seed.commit("fb", {"/c": b"1"})  # one since: the input stays at `fired`
    data = seed.commit("data", {"/d": b"1"})
    jobs = list(reversed(platform.pipelines.jobs("both")))
    for job in jobs:
        finished(platform, "both", job.id)
    assert [job.id for job in jobs] == [fired.id, data.id]
    assert {i.name: i.commit for i in jobs[1].inputs} == {"data": data.id, "fb": fired.id}


def test_a_trigger_on_a_pipelines_output(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("raw")
    create(platform, copy_spec("up", "raw"), gated("down", "up", {"commits": 2}))
    first = seed.commit("raw", {"/a": b"1"})
    up1 = finished(platform, "up", first.id)
    assert platform.pipelines.jobs("down") == []
    second = seed.commit("raw", {"/b": b"1"})
    up2 = finished(platform, "up", second.id)
    assert up1.output_commit and up2.output_commit
    assert job_inputs(platform, "down") == [up2.output_commit]


def test_commits_at_once_fire_one_job(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("fb")
    create(platform, gated("retrain", "fb", {"commits": 3}))
    go = threading.Barrier(3)

    def commit(i: int) -> None:
        go.wait(timeout=WAIT)
        seed.commit("fb", {f"/{i}": b"1"})

    threads = [threading.Thread(target=commit, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    head = platform.repos.get_branch("fb", "master").head
    assert job_inputs(platform, "retrain") == [head]
