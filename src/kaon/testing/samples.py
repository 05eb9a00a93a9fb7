"""Records the contract suites store: commits, chunk locations, jobs, trials, endpoints."""

from __future__ import annotations

import threading
from collections.abc import Callable

from kaon.core.commit import Commit, seal
from kaon.core.endpoints import Batching, Endpoint, EndpointState
from kaon.core.hyper import make_hyper
from kaon.core.ids import BranchName, CommitId, Digest, PackId, RepoName
from kaon.core.jobs import Bundle, Job, JobId, JobState, Resources, WorkspaceName
from kaon.ports.metadata import ChunkLocation

R = RepoName("data")
MAIN = BranchName("main")
WS = WorkspaceName("ws")


def mk(parent: CommitId | None, msg: str, repo: RepoName = R, branch: str = "main") -> Commit:
    """A sealed commit of `repo`'s `branch` on top of `parent`."""
    tree = Digest("ab" * 32)
    partial = Commit(
        CommitId(""), repo, BranchName(branch), parent, tree, 10, 2, msg, "me", 1.5, 2.25
    )
    return seal(partial)


def dg(i: int) -> Digest:
    return Digest(f"{i:064x}")


def loc(i: int, pack: str, offset: int | None = None) -> ChunkLocation:
    return ChunkLocation(dg(i), PackId(pack), i * 10 if offset is None else offset, 7, 9, 1)


def bundle(kind: str, commit: str) -> Bundle:
    return Bundle(kind, "mnist", f"ws-{kind}", "mnist", commit, "ab" * 32, "me", 10, 2)


def job_id(n: int) -> JobId:
    return JobId(f"{n:04x}" + "0" * 28)


def job(n: int, state: JobState = JobState.PENDING, workspace: WorkspaceName = WS) -> Job:
    """Job number `n`, created at time `n`."""
    return Job(
        job_id(n),
        workspace,
        state,
        float(n),
        "me",
        bundle("source", "c1"),
        bundle("data", "d1"),
        make_hyper({"a": [1, 2]}),
        Resources(cpu=1.0, memory=2**30, timeout=60.0, parallelism=2, sandbox=True),
        env={"lock_id": "x"},
    )


def endpoint(name: str, created: float, workspace: str = WS) -> Endpoint:
    return Endpoint(
        name,
        workspace,
        EndpointState.STARTING,
        created,
        "me",
        bundle("serve", "s1"),
        "abcde_abcde:abcdef",
        2,
        Batching(32, 5.0),
        10.0,
    )


def run_threads(n: int, work: Callable[[int], None]) -> list[Exception]:
    """Run `work(0..n-1)` in n threads at once; the exceptions they raised."""
    errors: list[Exception] = []

    def guarded(i: int) -> None:
        try:
            work(i)
        except Exception as err:  # noqa: BLE001 - reported to the caller
            errors.append(err)

    workers = [threading.Thread(target=guarded, args=(i,)) for i in range(n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return errors
