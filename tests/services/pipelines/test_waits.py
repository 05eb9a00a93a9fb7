"""`wait commit` (waiters woken by job changes, never polling in a loop) and `restart datum`
on the platform's real pipeline store and repos."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from kaon.core.errors import Conflict, DatumNotFound, InvalidInput, JobNotFound
from kaon.core.pipelines.records import (
    DatumRecord,
    DatumState,
    InputCommit,
    JobState,
    PipelineJob,
)
from kaon.services.pipelines.waits import JobWatch, Waits, WatchedStore
from kaon.wiring import Platform

from .svchelp import add_pipeline

SPEC = {
    "pipeline": {"name": "model"},
    "input": {"pfs": {"repo": "data", "glob": "/*"}},
    "transform": {"cmd": ["true"]},
}


@pytest.fixture
def store(platform: Platform, platform_factory: Any) -> WatchedStore:
    watched = WatchedStore(platform_factory.backends(platform).pipelines, JobWatch())
    platform.repos.create_repo("data")
    platform.repos.create_repo("model")
    add_pipeline(watched, SPEC)
    return watched


@pytest.fixture
def waits(platform: Platform, store: WatchedStore) -> Waits:
    return Waits(store, platform.repos, store.watch)


def _job(gid: str, state: JobState = JobState.RUNNING, **more: Any) -> PipelineJob:
    return PipelineJob(
        id=gid,
        pipeline="model",
        version=1,
        state=state,
        created=time.time(),
        inputs=(InputCommit("data", "data", "master", "c" * 64),),
        output_repo="model",
        output_branch="master",
        **more,
    )


def test_wait_commit_returns_the_head_once_the_job_writing_it_is_done(
    platform: Platform, store: WatchedStore, waits: Waits, seed: Any
) -> None:
    old = seed.commit("model", {"/m.txt": b"old"})
    job = _job("a" * 32)
    store.add_job(job)
    got: list[Any] = []
    waiter = threading.Thread(target=lambda: got.append(waits.wait_commit("model", "master")))
    waiter.start()
    new = seed.commit("model", {"/m.txt": b"new"})  # the job's output commit lands …
    store.save_job(  # … then the job is done: the waiter wakes and sees the new head
        job.moved(JobState.FINISHING).moved(JobState.SUCCESS, output_commit=str(new.id))
    )
    waiter.join()
    assert got[0].id == new.id != old.id
    assert waits.wait_commit("model", "a" * 32).id == new.id  # by global id


def test_a_plain_repo_commit_is_final_at_once(waits: Waits, seed: Any) -> None:
    head = seed.commit("data", {"/x": b"1"})
    assert waits.wait_commit("data", "master").id == head.id
    assert waits.wait_commit("data", str(head.id)[:8]).id == head.id


def test_a_failed_job_is_named_and_an_unfinished_one_times_out(
    store: WatchedStore, waits: Waits, seed: Any
) -> None:
    seed.commit("model", {"/m.txt": b"old"})
    running = _job("b" * 32)
    store.add_job(running)
    with pytest.raises(TimeoutError):
        waits.wait_commit("model", "master", timeout=0.01)
    store.save_job(running.moved(JobState.FAILURE, "datum 1f2e failed 2 times"))
    for ref in ("master", "b" * 32):
        with pytest.raises(Conflict) as info:
            waits.wait_commit("model", ref)
        assert f"model@{'b' * 32}" in info.value.message
        assert "failure: datum 1f2e failed 2 times" in info.value.message


def _datum(job: str, datum: str, state: DatumState) -> DatumRecord:
    return DatumRecord("model", job, datum, "h" + datum, state, ())


def test_restart_datum_makes_a_new_job_on_the_same_inputs_rerunning_that_datum(
    store: WatchedStore, waits: Waits
) -> None:
    old = _job("c" * 32, JobState.CREATED).moved(JobState.FAILURE, "1 datum failed")
    store.add_job(old)
    store.save_datums(
        [
            _datum(old.id, "abc111", DatumState.FAILED),
            _datum(old.id, "abd222", DatumState.SUCCESS),
            _datum(old.id, "fff333", DatumState.SUCCESS),
        ]
    )
    new = waits.restart_datum("model", "cccc", "abc")
    assert new.id != old.id and len(new.id) == 32
    assert (new.state, new.inputs, new.version) == (JobState.CREATED, old.inputs, old.version)
    assert (new.parent, new.rerun) == (old.id, ("abc111",))
    assert store.get_job("model", new.id) == new
    assert waits.restart_datum("model", old.id, "fff333").rerun == ("fff333",)
    with pytest.raises(InvalidInput, match="names 2 datums"):
        waits.restart_datum("model", old.id, "ab")
    with pytest.raises(DatumNotFound, match="kaon list datum"):
        waits.restart_datum("model", old.id, "999")
    with pytest.raises(JobNotFound):
        waits.restart_datum("model", "dddd", "abc")
