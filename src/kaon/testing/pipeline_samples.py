"""Pipeline records the contract suites (and benchmarks/pipeline_store.py) store: pipelines,
versions, jobs and datum records with every field set, numbered so that tests can name them."""

from __future__ import annotations

import dataclasses
from typing import Any

from kaon.core.pipelines.records import (
    DatumRecord,
    DatumState,
    InputCommit,
    JobState,
    Pipeline,
    PipelineJob,
    PipelineState,
    PipelineVersion,
)

SPEC = {
    "pipeline": {"name": "edges"},
    "input": {"cross": [{"pfs": {"repo": "images", "glob": "/*"}}, {"pfs": {"repo": "é"}}]},
    "transform": {"cmd": ["python3", "edges.py"], "env": {"A": "1"}, "stdin": []},
    "datum_tries": 3,
    "parallelism_spec": {"constant": 2},
    "datum_timeout": 1.5e-3,
    "lazy": None,
    "standby": False,
}


def gid(n: int) -> str:
    """Global id number `n` (32 hex)."""
    return f"{n:04x}" + "0" * 28


def digest(n: int, kind: str = "a") -> str:
    return f"{kind}{n:063x}"


def pipeline(name: str = "edges", version: int = 1, **changes: Any) -> Pipeline:
    made = Pipeline(
        name,
        version,
        PipelineState.RUNNING,
        created=1.25,
        updated=2.5,
        description="finds edges",
        inputs=("images", "é"),
    )
    return dataclasses.replace(made, **changes)


def version(name: str = "edges", number: int = 1, **changes: Any) -> PipelineVersion:
    made = PipelineVersion(
        name,
        number,
        {**SPEC, "pipeline": {"name": name}, "n": number},
        source_repo="kaon-pipelines",
        source_commit="c" * 32,
        lock_id="l" * 16,
        lock="numpy==2.0\n",
        python="3.12",
        salt=digest(number, "5"),
        created=float(number),
        author="me",
        warnings=("field 'standby' has no effect here",),
    )
    return dataclasses.replace(made, **changes)


def job(
    n: int, name: str = "edges", state: JobState = JobState.CREATED, created: float | None = None
) -> PipelineJob:
    """Job `gid(n)` of pipeline `name`, created at time `n` unless given."""
    return PipelineJob(
        gid(n),
        name,
        1,
        state,
        float(n) if created is None else created,
        (InputCommit("images", "images", "master", "c" * 32), InputCommit("é", "é", "x", None)),
        output_repo=name,
        output_branch="master",
    )


def datum(
    n: int,
    job_n: int = 1,
    state: DatumState = DatumState.SUCCESS,
    name: str = "edges",
    output: str | None = "o" * 64,
    hash_n: int | None = None,
) -> DatumRecord:
    """Datum `digest(n)` of job `gid(job_n)`, hash `digest(hash_n or n, "b")`."""
    files = (
        {"input": "images", "repo": "images", "path": f"/{n}.png", "digest": "d" * 64, "size": n},
    )
    return DatumRecord(
        name,
        gid(job_n),
        digest(n),
        digest(n if hash_n is None else hash_n, "b"),
        state,
        files,
        tries=1,
        seconds=0.25,
        output=output,
    )
