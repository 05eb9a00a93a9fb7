"""The scheduler over real stores and the local executor: cascades, paused stages, kills."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kaon.core.pipelines.records import JobState
from kaon.services.pipelines.service import SpecRequest
from kaon.wiring import Platform

WAIT = 120.0


def stage(name: str, repo: str, cmd: str = "") -> dict[str, Any]:
    return {
        "pipeline": {"name": name},
        "input": {"pfs": {"repo": repo, "glob": "/*"}},
        "transform": {"cmd": ["sh", "-c", cmd or f"cp -r /pfs/{repo}/. /pfs/out/"]},
        "datum_tries": 1,
    }


def test_a_paused_stage_holds_back_what_lies_below_it(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("raw")
    specs = [stage("a", "raw"), stage("b", "a"), stage("c", "b")]
    platform.pipelines.create([SpecRequest(s) for s in specs], "alice")
    platform.pipelines.stop("b")
    commit = seed.commit("raw", {"/x": b"x"})
    assert [j.pipeline for j in platform.pipelines.jobs(global_id=commit.id)] == ["a"]
    a = platform.pipelines.wait_job("a", commit.id, WAIT)
    assert a.state is JobState.SUCCESS, a.reason
    assert platform.pipelines.jobs("b") == [] and platform.pipelines.jobs("c") == []
    platform.pipelines.start("b")  # a's output moved while b was stopped: one job, then c
    (b,) = platform.pipelines.jobs("b")
    (c,) = platform.pipelines.jobs("c")
    assert b.id == c.id != commit.id
    assert platform.pipelines.wait_job("c", c.id, WAIT).state is JobState.SUCCESS
    done_b = platform.pipelines.job("b", b.id)
    assert done_b.inputs[0].commit == a.output_commit
    assert platform.pipelines.job("c", c.id).inputs[0].commit == done_b.output_commit
    # each output commit was made by a job: none of them set off a cascade of its own
    assert [len(platform.pipelines.jobs(p)) for p in "abc"] == [1, 1, 1]


def test_kill_a_queued_job_then_the_running_one(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("raw")
    specs = [stage("slow", "raw", "sleep 600"), stage("below", "slow")]
    platform.pipelines.create([SpecRequest(s) for s in specs], "alice")
    first = seed.commit("raw", {"/1": b"1"})
    second = seed.commit("raw", {"/2": b"2"})  # queued behind the first: one at a time
    queued = platform.pipelines.kill_job("slow", second.id)
    assert queued.state is JobState.KILLED
    running = platform.pipelines.kill_job("slow", first.id)
    assert platform.pipelines.wait_job("slow", first.id, WAIT).state is JobState.KILLED, running
    below = platform.pipelines.wait_job("below", first.id, WAIT)
    assert below.state is JobState.UNRUNNABLE and f"slow@{first.id}" in below.reason
    other = platform.pipelines.wait_job("below", second.id, WAIT)
    assert other.state is JobState.UNRUNNABLE and "killed" in other.reason


def test_a_cross_of_a_repo_and_its_own_downstream_sees_one_commit(
    platform: Platform,
    seed,  # type: ignore[no-untyped-def]
) -> None:
    platform.repos.create_repo("raw")
    both = {
        "pipeline": {"name": "both"},
        "input": {
            "cross": [
                {"pfs": {"repo": "raw", "glob": "/"}},
                {"pfs": {"repo": "up", "glob": "/"}},
            ]
        },
        "transform": {"cmd": ["sh", "-c", "cat /pfs/raw/v /pfs/up/v > /pfs/out/v"]},
    }
    platform.pipelines.create([SpecRequest(stage("up", "raw")), SpecRequest(both)], "alice")
    for value in (b"1", b"2"):
        commit = seed.commit("raw", {"/v": value})
        job = platform.pipelines.wait_job("both", commit.id, WAIT)
        assert job.state is JobState.SUCCESS, job.reason
        assert seed.read("both", "master", "/v") == value * 2  # never an old `up` with a new raw


def test_a_spouts_commits_set_off_the_pipelines_below_it(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    spout = {
        "pipeline": {"name": "stream"},
        "transform": {
            "cmd": [
                "bash",
                "-c",
                "set -e; d=$TMPDIR/s; mkdir -p $d; echo one > $d/a.txt; "
                "tar -C $d -cf - . > /pfs/out; exec sleep 600",
            ]
        },
        "spout": {"overwrite": False},
    }
    platform.pipelines.create([SpecRequest(spout), SpecRequest(stage("below", "stream"))], "al")
    (running,) = platform.pipelines.jobs("stream")
    assert running.service and running.inputs == ()
    below = eventually(lambda: platform.pipelines.jobs("below"))
    commit = platform.repos.get_branch("stream", "master").head
    assert [j.id for j in below] == [commit]  # the spout's commit id is the global id
    done = platform.pipelines.wait_job("below", below[0].id, WAIT)
    assert done.state is JobState.SUCCESS, done.reason
    assert platform.pipelines.job("stream", running.id).state is JobState.RUNNING
    platform.pipelines.stop("stream")
    assert platform.pipelines.job("stream", running.id).state is JobState.KILLED


def test_a_service_serves_its_latest_input_until_stopped(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("site")
    web = {
        "pipeline": {"name": "web"},
        "input": {"pfs": {"repo": "site", "glob": "/"}},
        "transform": {"cmd": ["bash", "-c", "exec sleep 600"]},
        "service": {"internal_port": 30999},
    }
    platform.pipelines.create([SpecRequest(web)], "al")
    first = seed.commit("site", {"/index.txt": b"one"})
    job = eventually(
        lambda: (
            platform.pipelines.job("web", first.id).state is JobState.RUNNING
            and platform.pipelines.job("web", first.id)
        )
    )
    assert job.service and platform.pipelines.service_url("web") == "/pipelines/web/"
    second = seed.commit("site", {"/index.txt": b"two"})
    eventually(lambda: platform.pipelines.job("web", second.id).state is JobState.RUNNING)
    assert platform.pipelines.job("web", first.id).state is JobState.KILLED  # replaced
    platform.pipelines.stop("web")
    assert platform.pipelines.job("web", second.id).state is JobState.KILLED
    assert platform.pipelines.service_url("web") is None
    platform.pipelines.start("web")  # serves the latest input again, as a new job
    assert len(platform.pipelines.jobs("web")) == 3


def eventually(check: Callable[[], Any]) -> Any:
    """The first truthy value of `check()` (polled: a bound for a hang, not a speed check)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"never true: {check}")
