"""PipelineService over real stores and the real local executor: create/update checks, jobs on
current heads, triggers with global ids, cascades, UNRUNNABLE, stop/start, delete, recovery."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from kaon.core.errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    PipelineNotFound,
)
from kaon.core.pipelines.records import (
    InputCommit,
    JobState,
    PipelineJob,
    PipelineState,
    new_global_id,
)
from kaon.services.pipelines.scheduler import RECOVERED
from kaon.services.pipelines.service import SpecRequest
from kaon.wiring import Backends, Platform

WAIT = 120.0  # seconds: a bound for a hung job, never a speed check


def copy_spec(name: str, repo: str, *, glob: str = "/*", cmd: str = "") -> dict[str, Any]:
    """A pipeline copying each datum of `repo` to its output (or running `cmd`)."""
    return {
        "pipeline": {"name": name},
        "input": {"pfs": {"repo": repo, "glob": glob}},
        "transform": {"cmd": ["sh", "-c", cmd or f"cp -r /pfs/{repo}/. /pfs/out/"]},
    }


def create(platform: Platform, *specs: dict[str, Any], update: bool = False) -> list[str]:
    created = platform.pipelines.create([SpecRequest(s) for s in specs], "alice", update=update)
    return [p.name for p in created.pipelines]


def finished(platform: Platform, pipeline: str, job_id: str) -> PipelineJob:
    job = platform.pipelines.wait_job(pipeline, job_id, timeout=WAIT)
    assert job.state.finished, job
    return job


def only_job(platform: Platform, pipeline: str) -> PipelineJob:
    jobs = platform.pipelines.jobs(pipeline)
    assert len(jobs) == 1, jobs
    return finished(platform, pipeline, jobs[0].id)


@pytest.fixture
def raw(platform: Platform) -> str:
    platform.repos.create_repo("raw")
    return "raw"


def test_missing_input_repo_is_refused_and_nothing_is_created(platform: Platform) -> None:
    reads_first = copy_spec("second", "first")  # an output of the same request: fine
    with pytest.raises(InvalidInput, match="input repo 'nowhere' does not exist"):
        create(platform, copy_spec("first", "nowhere"), reads_first)
    assert platform.pipelines.list() == []
    assert [r.name for r in platform.repos.list_repos()] == []


def test_a_cycle_is_refused(platform: Platform, raw: str) -> None:
    with pytest.raises(InvalidInput, match="cycle"):
        create(platform, copy_spec("a", "b"), copy_spec("b", "a"))
    assert platform.pipelines.list() == []


def test_reading_another_branch_of_a_downstream_output_is_no_cycle(
    platform: Platform, raw: str
) -> None:
    """The graph goes by repo AND branch: b reads a's output (a@master), a reads b@review,
    which no pipeline writes."""
    first = copy_spec("a", raw)
    first["input"] = {
        "cross": [first["input"], {"pfs": {"repo": "b", "branch": "review", "glob": "/"}}]
    }
    assert create(platform, first, copy_spec("b", "a")) == ["a", "b"]
    with pytest.raises(InvalidInput, match="cycle"):  # b's own output branch: a cycle
        first["input"]["cross"][1]["pfs"]["branch"] = "master"
        create(platform, first, update=True)


def test_two_docs_of_one_name_and_name_clashes(platform: Platform, raw: str) -> None:
    with pytest.raises(InvalidInput, match="two specs are named 'p'"):
        create(platform, copy_spec("p", raw), copy_spec("p", raw))
    with pytest.raises(AlreadyExists, match="repo 'raw' exists: pick another pipeline name"):
        create(platform, copy_spec("raw", raw))
    create(platform, copy_spec("p", raw))
    with pytest.raises(AlreadyExists, match="use `kaon update pipeline`"):
        create(platform, copy_spec("p", raw))
    with pytest.raises(PipelineNotFound):
        create(platform, copy_spec("q", raw), update=True)


def test_create_runs_a_job_on_the_current_heads(platform: Platform, seed, raw: str) -> None:  # type: ignore[no-untyped-def]
    head = seed.commit(raw, {"/a.txt": b"A", "/b.txt": b"B"})
    create(platform, copy_spec("copy", raw))
    job = only_job(platform, "copy")
    assert job.state is JobState.SUCCESS, job.reason
    assert job.inputs == (InputCommit("raw", "raw", "master", head.id),)
    assert seed.read("copy", "master", "/a.txt") == b"A"
    assert job.output_commit == platform.repos.get_branch("copy", "master").head


def test_no_job_while_the_inputs_have_no_commit(platform: Platform, raw: str) -> None:
    create(platform, copy_spec("copy", raw))
    assert platform.pipelines.jobs("copy") == []


def test_a_cascade_shares_the_commits_global_id(platform: Platform, seed, raw: str) -> None:  # type: ignore[no-untyped-def]
    create(platform, copy_spec("one", raw), copy_spec("two", "one"))
    commit = seed.commit(raw, {"/x.txt": b"X"})
    one = finished(platform, "one", commit.id)
    two = finished(platform, "two", commit.id)
    assert (one.state, two.state) == (JobState.SUCCESS, JobState.SUCCESS), (one, two)
    assert one.inputs[0].commit == commit.id
    assert two.inputs[0].commit == one.output_commit  # the upstream job's own output
    assert seed.read("two", "master", "/x.txt") == b"X"
    assert {j.pipeline for j in platform.pipelines.jobs(global_id=commit.id)} == {"one", "two"}
    ids = [c.id for c in platform.pipelines.commit_set(commit.id)]
    assert ids == [commit.id, one.output_commit, two.output_commit]


def test_upstream_failure_makes_downstream_unrunnable(platform: Platform, seed, raw: str) -> None:  # type: ignore[no-untyped-def]
    failing = copy_spec("bad", raw, cmd="exit 3") | {"datum_tries": 1}
    create(platform, failing, copy_spec("after", "bad"))
    commit = seed.commit(raw, {"/x.txt": b"X"})
    bad = finished(platform, "bad", commit.id)
    after = finished(platform, "after", commit.id)
    assert bad.state is JobState.FAILURE
    assert after.state is JobState.UNRUNNABLE
    assert f"bad@{commit.id}" in after.reason


def test_update_makes_version_2_with_a_new_salt(platform: Platform, seed, raw: str) -> None:  # type: ignore[no-untyped-def]
    seed.commit(raw, {"/x.txt": b"X"})
    create(platform, copy_spec("copy", raw))
    first = only_job(platform, "copy")
    v1 = platform.pipelines.version("copy")
    create(platform, copy_spec("copy", raw, cmd="echo changed > /pfs/out/y"), update=True)
    v2 = platform.pipelines.version("copy")
    assert (v1.version, v2.version, platform.pipelines.get("copy").version) == (1, 2, 2)
    assert v1.salt != v2.salt and v2.reprocess
    jobs = [j for j in platform.pipelines.jobs("copy") if j.id != first.id]
    assert len(jobs) == 1
    assert finished(platform, "copy", jobs[0].id).version == 2
    assert seed.read("copy", "master", "/y") == b"changed\n"


def test_update_without_reprocess_keeps_the_salt(platform: Platform, raw: str) -> None:
    create(platform, copy_spec("copy", raw))
    salt = platform.pipelines.version("copy").salt
    platform.pipelines.create(
        [SpecRequest(copy_spec("copy", raw, glob="/"))], "bob", update=True, reprocess=False
    )
    v2 = platform.pipelines.version("copy")
    assert (v2.version, v2.salt, v2.reprocess) == (2, salt, False)


def test_stopped_pipeline_remembers_and_start_runs_one_job(
    platform: Platform,
    seed,
    raw: str,  # type: ignore[no-untyped-def]
) -> None:
    create(platform, copy_spec("copy", raw))
    assert platform.pipelines.stop("copy").state is PipelineState.PAUSED
    seed.commit(raw, {"/1": b"1"})
    head = seed.commit(raw, {"/2": b"2"})
    assert platform.pipelines.jobs("copy") == []
    platform.pipelines.start("copy")
    job = only_job(platform, "copy")
    assert job.state is JobState.SUCCESS and job.inputs[0].commit == head.id
    platform.pipelines.stop("copy")
    platform.pipelines.start("copy")  # nothing new: no job
    assert len(platform.pipelines.jobs("copy")) == 1


def test_delete_refuses_while_another_pipeline_reads_it(platform: Platform, raw: str) -> None:
    create(platform, copy_spec("one", raw), copy_spec("two", "one"))
    with pytest.raises(Conflict, match="delete pipeline two first"):
        platform.pipelines.delete("one")
    platform.pipelines.delete("two")
    platform.pipelines.delete("one", keep_repo=True)
    assert platform.pipelines.list() == []
    assert [r.name for r in platform.repos.list_repos()] == ["one", "raw"]
    create(platform, copy_spec("one", raw))  # its kept output repo is its own again


def test_run_makes_a_new_global_id_and_kill_of_a_queued_job(
    platform: Platform,
    seed,
    raw: str,  # type: ignore[no-untyped-def]
) -> None:
    seed.commit(raw, {"/x": b"x"})
    create(platform, copy_spec("copy", raw))
    first = only_job(platform, "copy")
    platform.pipelines.stop("copy")
    job = platform.pipelines.run("copy", reprocess=True)
    assert job.id != first.id and job.reprocess
    done = finished(platform, "copy", job.id)
    assert done.state is JobState.SUCCESS
    with pytest.raises(Conflict, match="nothing to kill"):
        platform.pipelines.kill_job("copy", done.id[:8])


def test_a_job_left_running_by_a_crash_is_run_again(
    platform_factory,
    seeder_for,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    home = tmp_path / "crash"
    first = platform_factory(home=home)
    first.repos.create_repo("raw")
    commit = seeder_for(first).commit("raw", {"/x.txt": b"X"})
    create(first, copy_spec("copy", "raw"))
    only_job(first, "copy")
    store = platform_factory.backends(first).database.pipelines
    gid = new_global_id()
    left = PipelineJob(
        id=gid,
        pipeline="copy",
        version=1,
        state=JobState.RUNNING,  # as a crash leaves it
        created=first.pipelines.get("copy").created + 1000,
        inputs=(InputCommit("raw", "raw", "master", commit.id),),
        output_repo="copy",
        output_branch="master",
        started=first.pipelines.get("copy").created + 1000,
    )
    store.add_job(left)
    second = platform_factory(home=home)  # a second server on the same home starts and recovers
    job = finished(second, "copy", gid)
    assert job.state is JobState.SUCCESS, job.reason


def test_subvenance_of_a_raw_commit_reaches_every_stage(
    platform: Platform,
    backends: Backends,
    seed,
    raw: str,  # type: ignore[no-untyped-def]
) -> None:
    create(platform, copy_spec("one", raw), copy_spec("two", "one"))
    commit = seed.commit(raw, {"/x.txt": b"X"})
    one = finished(platform, "one", commit.id)
    two = finished(platform, "two", commit.id)
    graph = platform.provenance.subvenance(commit.id[:8])
    ids = {n.id for n in graph.nodes}
    assert {
        f"job:one@{commit.id}",
        f"data:{one.output_commit}",
        f"job:two@{commit.id}",
        f"data:{two.output_commit}",
    } <= ids
    ancestry = {n.id for n in backends.provenance.ancestry(f"data:{two.output_commit}").nodes}
    assert {f"data:{commit.id}", "environment:platform@"} <= ancestry


def test_a_platform_stop_leaves_its_running_job_to_run_again(
    platform_factory,
    seeder_for,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    home = tmp_path / "stop"
    first = platform_factory(home=home)
    first.repos.create_repo("raw")
    create(first, copy_spec("slow", "raw", cmd="sleep 600"))
    commit = seeder_for(first).commit("raw", {"/x": b"x"})
    deadline = time.monotonic() + WAIT
    while first.pipelines.job("slow", commit.id).state is not JobState.RUNNING:
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)
    first.close()  # a clean stop: the job is cancelled, not failed nor killed
    second = platform_factory(home=home)
    again = second.pipelines.job("slow", commit.id)
    assert not again.state.finished and again.reason == RECOVERED, again
    assert second.pipelines.kill_job("slow", commit.id).state is JobState.KILLED
