"""Wire types of pipelines: pipelines and their versions, pipeline jobs, datums, log lines,
and what creating pipelines answers (docs/pipelines.md).

States are kaon.core.pipelines.records enums in Python; on the wire they are their values,
documented inline (`_EnumCodec`): the pipeline job's `JobState` shares its class name with
the training job's, so it cannot be a named schema of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated, Any

from kaon.core.pipelines.records import DatumState, JobState, PipelineState
from kaon.wire.base import Answer, _Codec, doc
from kaon.wire.data import CommitInfo


class _EnumCodec(_Codec):
    """An enum carried as its value, its schema inline (`{"type": "string", "enum": [...]}`)."""

    def __init__(self, kind: type[Enum], *, optional: bool = False) -> None:
        self.kind = kind
        schema: dict[str, Any] = {"type": "string", "enum": [m.value for m in kind]}
        self.json_schema = {"anyOf": [schema, {"type": "null"}]} if optional else schema

    def decode(self, value: Any) -> Any:
        if value is None or isinstance(value, self.kind):
            return value
        return self.kind(value)

    def encode(self, value: Any) -> Any:
        return value.value if isinstance(value, Enum) else value


PIPELINE_STATE = _EnumCodec(PipelineState)
PIPELINE_JOB_STATE = _EnumCodec(JobState)
LAST_JOB_STATE = _EnumCodec(JobState, optional=True)
DATUM_STATE = _EnumCodec(DatumState)


# -- pipelines --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineInfo(Answer):
    name: str = field(metadata=doc("the pipeline, and its output repo"))
    version: int = field(metadata=doc("1, 2, …: up by one on every update"))
    state: Annotated[PipelineState, PIPELINE_STATE]
    created: float
    updated: float
    description: str
    reason: str = field(metadata=doc("why it is in failure or paused"))
    input: str = field(
        metadata=doc("its input as `kaon list pipeline` shows it: repo:/glob, cross, union…")
    )
    inputs: list[str] = field(metadata=doc("the repos it reads"))
    output_branch: str
    spec: dict[str, Any] = field(metadata=doc("the canonical spec document of this version"))
    source_repo: str | None = field(metadata=doc("its code: a commit of a source bundle"))
    source_commit: str | None
    lock_id: str = field(metadata=doc("its locked environment (empty: the platform's Python)"))
    python: str
    salt: str = field(metadata=doc("goes into every datum hash: a new one reprocesses"))
    reprocess: bool = field(
        metadata=doc("false: this version kept the datums of older ones (update --no-reprocess)")
    )
    author: str
    warnings: list[str] = field(metadata=doc("what parsing its spec said"))
    last_job: Annotated[JobState | None, LAST_JOB_STATE] = field(
        default=None, metadata=doc("the state of its newest job (none: no job yet)")
    )
    service_url: str | None = field(
        default=None, metadata=doc("a service pipeline: where the platform exposes it")
    )


@dataclass(frozen=True)
class PipelinesCreated(Answer):
    pipelines: list[PipelineInfo]
    warnings: list[str] = field(metadata=doc("one line each: ignored fields, images, …"))


# -- jobs and datums --------------------------------------------------------------------------


@dataclass(frozen=True)
class JobInputInfo(Answer):
    name: str = field(metadata=doc("seen at /pfs/<name>"))
    repo: str
    branch: str
    commit: str | None = field(metadata=doc("the commit the job read (none: an empty branch)"))


@dataclass(frozen=True)
class DatumCountsInfo(Answer):
    total: int
    processed: int
    skipped: int
    failed: int
    recovered: int


@dataclass(frozen=True)
class JobStatsInfo(Answer):
    download_bytes: int
    upload_bytes: int
    download_seconds: float
    process_seconds: float
    upload_seconds: float


@dataclass(frozen=True)
class PipelineJobInfo(Answer):
    id: str = field(metadata=doc("the global id: shared by every job one commit set off"))
    pipeline: str
    version: int = field(metadata=doc("the pipeline version it ran"))
    state: Annotated[JobState, PIPELINE_JOB_STATE]
    created: float
    started: float | None
    finished: float | None
    duration: float | None
    reason: str = field(metadata=doc("why it failed, was killed or is unrunnable"))
    inputs: list[JobInputInfo]
    output_repo: str
    output_branch: str
    output_commit: str | None = field(metadata=doc("set when it succeeded, never partial"))
    counts: DatumCountsInfo
    progress: str = field(metadata=doc("processed + skipped / total"))
    restarts: int = field(metadata=doc("datum retries"))
    stats: JobStatsInfo
    pfs_mode: str = field(metadata=doc("how /pfs was given: bubblewrap (mounts) or rewrite"))
    reprocess: bool = field(metadata=doc("every datum was run, none skipped"))
    service: bool
    parent: str | None = field(metadata=doc("the pipeline's previous job"))

    @property
    def key(self) -> str:
        """`<pipeline>@<id>`, as `inspect job` and `list datum` take it."""
        return f"{self.pipeline}@{self.id}"


@dataclass(frozen=True)
class DatumInfo(Answer):
    pipeline: str
    job: str
    id: str = field(metadata=doc("what it reads (input name, repo, paths), hashed"))
    hash: str = field(metadata=doc("id + content of every file + the version's salt"))
    state: Annotated[DatumState, DATUM_STATE]
    files: list[dict[str, Any]] = field(metadata=doc("the files it reads: input, repo, path, …"))
    tries: int
    seconds: float
    output: str | None = field(metadata=doc("the tree of what it wrote to /pfs/out"))
    reused_from: str | None = field(metadata=doc("skipped: the job whose output is reused"))
    reason: str
    download_bytes: int
    upload_bytes: int


@dataclass(frozen=True)
class CommitWait(Answer):
    commit: CommitInfo | None = field(metadata=doc("the finished commit (none: not yet)"))
    done: bool = field(metadata=doc("false: the wait's timeout passed first; ask again"))


# -- logs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogDatumFile(Answer):
    path: str
    hash: str


@dataclass(frozen=True)
class PipelineLogLine(Answer):
    ts: float = field(metadata=doc("seconds since the epoch"))
    pipeline: str
    job: str
    datum: str = field(metadata=doc('the datum id ("": a line of the job itself)'))
    data: list[LogDatumFile]
    message: str
    user: bool = field(metadata=doc("written by the user's code (false: by the platform)"))


@dataclass(frozen=True)
class PipelineLogPage(Answer):
    lines: list[PipelineLogLine]
    offset: int = field(metadata=doc("ask again from here to follow"))
    done: bool = field(metadata=doc("no more lines will come (the job ended)"))
