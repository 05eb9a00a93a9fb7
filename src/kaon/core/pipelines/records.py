"""Pipelines, their versions, jobs and datum records: states, allowed moves, documents.

    pipeline:  STARTING ──► RUNNING ◄──► PAUSED (stop/start)     any ──► FAILURE (its build)
    job:       CREATED ──► STARTING ──► RUNNING ──► FINISHING ──► SUCCESS
                  │           │            │            │
                  └───────────┴────────────┴────────────┴──► FAILURE / KILLED
               CREATED ──► UNRUNNABLE (an upstream job failed)
               STARTING / RUNNING / FINISHING ──► STARTING (recovered at a platform restart)
    datum:     PENDING ──► RUNNING ──► SUCCESS / FAILED / RECOVERED;  PENDING ──► SKIPPED

A job's id is its global id: every job and output commit set off by one input commit shares
it (the commit's own id for a user's commit; a new id for `run pipeline`), so a job is named
`<pipeline>@<id>`. Records travel as documents (`to_doc`/`from_doc`) in every store.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from kaon.core.errors import InvalidTransition


class PipelineState(StrEnum):
    STARTING = "starting"  # its environment is being built
    RUNNING = "running"  # it reacts to commits on its inputs
    PAUSED = "paused"  # `stop pipeline`: commits are remembered, no job starts
    FAILURE = "failure"  # it cannot run (its environment failed to build: see reason)


class JobState(StrEnum):
    CREATED = "JOB_CREATED"
    STARTING = "JOB_STARTING"  # planning datums, fetching inputs
    RUNNING = "JOB_RUNNING"
    FINISHING = "JOB_FINISHING"  # merging the datums' outputs into the output commit
    SUCCESS = "JOB_SUCCESS"
    FAILURE = "JOB_FAILURE"
    KILLED = "JOB_KILLED"
    UNRUNNABLE = "JOB_UNRUNNABLE"

    @property
    def finished(self) -> bool:
        return self in _ENDS

    @property
    def label(self) -> str:
        """As `kaon list job` shows it: "success", "running", …"""
        return self.value.removeprefix("JOB_").lower()


_ENDS = frozenset({JobState.SUCCESS, JobState.FAILURE, JobState.KILLED, JobState.UNRUNNABLE})
_FAILED = frozenset({JobState.FAILURE, JobState.KILLED})
ACTIVE_JOB_STATES = (JobState.CREATED, JobState.STARTING, JobState.RUNNING, JobState.FINISHING)

# A platform restart moves an interrupted job back to STARTING: it runs again, its datums
# that finished before the crash kept (their outputs are stored), nothing of it committed.
_RECOVER = frozenset({JobState.STARTING})
JOB_MOVES: dict[JobState, frozenset[JobState]] = {
    JobState.CREATED: frozenset({JobState.STARTING, JobState.UNRUNNABLE}) | _FAILED,
    JobState.STARTING: frozenset({JobState.RUNNING}) | _FAILED | _RECOVER,
    JobState.RUNNING: frozenset({JobState.FINISHING}) | _FAILED | _RECOVER,
    JobState.FINISHING: frozenset({JobState.SUCCESS}) | _FAILED | _RECOVER,
    JobState.SUCCESS: frozenset(),
    JobState.FAILURE: frozenset(),
    JobState.KILLED: frozenset(),
    JobState.UNRUNNABLE: frozenset(),
}


class DatumState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    SKIPPED = "skipped"  # same hash succeeded in an earlier job: its output is reused
    FAILED = "failed"  # every try failed (and err_cmd, if any, did not recover it)
    RECOVERED = "recovered"  # failed, but err_cmd exited 0: the job goes on without its output

    @property
    def finished(self) -> bool:
        return self not in (DatumState.PENDING, DatumState.RUNNING)


def check_job_move(old: JobState, new: JobState) -> None:
    """Raise InvalidTransition unless a pipeline job may go from `old` to `new`."""
    if new not in JOB_MOVES[old]:
        allowed = ", ".join(sorted(s.value for s in JOB_MOVES[old])) or "none: it is final"
        raise InvalidTransition(
            f"pipeline job cannot move from {old.value} to {new.value} (allowed: {allowed})"
        )


def new_global_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class PipelineVersion:
    """What one version of a pipeline runs: its spec (canonical document), its code (a commit
    of a source bundle, or none) and its locked environment. `salt` hashes the three: it goes
    into every datum hash, so a new version reprocesses datums (unless `reprocess` is False,
    an explicit opt-out recorded here and shown by `inspect pipeline` and provenance)."""

    pipeline: str
    version: int  # 1, 2, …: up by one on every update
    spec: dict[str, Any]  # kaon.core.pipelines.parse.spec_doc of the spec
    source_repo: str | None  # the source bundle's commit (None: no transform.source)
    source_commit: str | None
    lock_id: str  # the environment's lock (empty: the platform's own Python)
    lock: str
    python: str
    salt: str  # 64 hex
    created: float
    author: str = ""
    reprocess: bool = True  # False: datums of older versions are kept (update --no-reprocess)
    warnings: tuple[str, ...] = ()  # what parsing said (ignored fields, image not pulled)

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["warnings"] = list(self.warnings)
        return doc

    @staticmethod
    def from_doc(doc: dict[str, Any]) -> PipelineVersion:
        return PipelineVersion(**{**doc, "warnings": tuple(doc.get("warnings", ()))})


@dataclass(frozen=True)
class Pipeline:
    name: str
    version: int  # the current version
    state: PipelineState
    created: float
    updated: float
    description: str = ""
    reason: str = ""  # why it is in FAILURE or PAUSED
    inputs: tuple[str, ...] = ()  # the repos it reads (for the DAG and triggers)
    output_branch: str = "master"

    def moved(self, state: PipelineState, reason: str = "", **changes: Any) -> Pipeline:
        return replace(self, state=state, reason=reason, **changes)

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["state"] = self.state.value
        doc["inputs"] = list(self.inputs)
        return doc

    @staticmethod
    def from_doc(doc: dict[str, Any]) -> Pipeline:
        return Pipeline(
            **{**doc, "state": PipelineState(doc["state"]), "inputs": tuple(doc["inputs"])}
        )


@dataclass(frozen=True)
class InputCommit:
    """One input of a job, resolved: /pfs/<name> is `commit` of `repo`@`branch`."""

    name: str
    repo: str
    branch: str
    commit: str | None  # None: the branch has no commit yet (the input has no datum)


@dataclass(frozen=True)
class DatumCounts:
    total: int = 0
    processed: int = 0
    skipped: int = 0
    failed: int = 0
    recovered: int = 0

    @property
    def progress(self) -> str:
        """PROGRESS as Pachyderm shows it: "processed + skipped / total"."""
        return f"{self.processed} + {self.skipped} / {self.total}"


@dataclass(frozen=True)
class JobStats:
    download_bytes: int = 0
    upload_bytes: int = 0
    download_seconds: float = 0.0
    process_seconds: float = 0.0
    upload_seconds: float = 0.0


@dataclass(frozen=True)
class PipelineJob:
    id: str  # the global id (32 hex)
    pipeline: str
    version: int
    state: JobState
    created: float
    inputs: tuple[InputCommit, ...]
    output_repo: str
    output_branch: str
    started: float | None = None
    finished: float | None = None
    reason: str = ""  # why it failed, was killed or is unrunnable
    output_commit: str | None = None  # set when it succeeded (never a partial commit)
    counts: DatumCounts = field(default_factory=DatumCounts)
    restarts: int = 0  # datum retries
    stats: JobStats = field(default_factory=JobStats)
    pfs_mode: str = ""  # how /pfs was given: "bubblewrap" (mounts) or "rewrite" (PFS_DIR)
    reprocess: bool = False  # every datum was run (run --reprocess, reprocess_spec every_job)
    service: bool = False  # a service pipeline's job: RUNNING while its process serves
    parent: str | None = None  # the pipeline's previous job (whose datums may be skipped)
    rerun: tuple[str, ...] = ()  # datum ids run even if their hash succeeded (restart datum)

    @property
    def key(self) -> str:
        return f"{self.pipeline}@{self.id}"

    @property
    def duration(self) -> float | None:
        if self.started is None:
            return None
        return (self.finished or self.started) - self.started

    def moved(self, state: JobState, reason: str = "", **changes: Any) -> PipelineJob:
        """The job in `state` (InvalidTransition when that move is not allowed)."""
        check_job_move(self.state, state)
        return replace(self, state=state, reason=reason or self.reason, **changes)

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["state"] = self.state.value
        doc["inputs"] = [asdict(i) for i in self.inputs]
        doc["rerun"] = list(self.rerun)
        return doc

    @staticmethod
    def from_doc(doc: dict[str, Any]) -> PipelineJob:
        return PipelineJob(
            **{
                **doc,
                "state": JobState(doc["state"]),
                "inputs": tuple(InputCommit(**i) for i in doc["inputs"]),
                "counts": DatumCounts(**doc["counts"]),
                "stats": JobStats(**doc["stats"]),
                "rerun": tuple(doc.get("rerun", ())),
            }
        )


@dataclass(frozen=True)
class DatumRecord:
    """One datum of one job: what it read, what became of it, where its output is."""

    pipeline: str
    job: str  # the job's global id
    id: str  # kaon.core.pipelines.datums.Datum.id
    hash: str
    state: DatumState
    files: tuple[dict[str, Any], ...]  # the DatumFile documents (input, repo, path, …)
    tries: int = 0
    seconds: float = 0.0
    output: str | None = None  # the tree digest of what it wrote to /pfs/out (None: nothing)
    reused_from: str | None = None  # SKIPPED: the job whose output of this datum is reused
    reason: str = ""  # why it failed
    download_bytes: int = 0
    upload_bytes: int = 0

    def to_doc(self) -> dict[str, Any]:
        # not asdict: its deep copy is most of the cost of saving a job's 1,000 records
        doc = {f.name: getattr(self, f.name) for f in fields(self)}
        doc["state"] = self.state.value
        doc["files"] = [dict(f) for f in self.files]  # flat DatumFile documents
        return doc

    @staticmethod
    def from_doc(doc: dict[str, Any]) -> DatumRecord:
        return DatumRecord(
            **{**doc, "state": DatumState(doc["state"]), "files": tuple(doc["files"])}
        )
