"""Training jobs: states and their allowed moves, failure kinds, bundles, trials and model ids
(pure data, no I/O).

A job's (and a trial's) lifecycle:

    PENDING ──> BUILDING ──> RUNNING ──> SUCCESS
       │           │            │
       └───────────┴────────────┴──────> FAILURE (with a JobFailure) | KILLED

A finished state is final. A trial never builds: PENDING ──> RUNNING ──> SUCCESS, or FAILURE
or KILLED from PENDING (never run) or RUNNING.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, NewType

from kaon.core.errors import InvalidInput, InvalidTransition

JobId = NewType("JobId", str)
ModelId = NewType("ModelId", str)
WorkspaceName = NewType("WorkspaceName", str)

_WORKSPACE = re.compile(r"^[a-z0-9][a-z0-9_]{0,39}\Z")
_MODEL_ID = re.compile(r"^([0-9a-f]{5})_([0-9a-f]{5})(?:_([0-9a-f]{5}))?:([0-9a-f]{6})\Z")
SHORT = 5
MODEL_SHORT = 6


class JobState(StrEnum):
    PENDING = "JOB_PENDING"
    BUILDING = "JOB_BUILDING"
    RUNNING = "JOB_RUNNING"
    SUCCESS = "JOB_SUCCESS"
    FAILURE = "JOB_FAILURE"
    KILLED = "JOB_KILLED"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCESS, JobState.FAILURE, JobState.KILLED)


ACTIVE_STATES = (JobState.PENDING, JobState.BUILDING, JobState.RUNNING)
_ENDS = frozenset({JobState.SUCCESS, JobState.FAILURE, JobState.KILLED})
_FAILED = frozenset({JobState.FAILURE, JobState.KILLED})

JOB_MOVES: dict[JobState, frozenset[JobState]] = {
    JobState.PENDING: frozenset({JobState.BUILDING}) | _FAILED,
    JobState.BUILDING: frozenset({JobState.RUNNING}) | _FAILED,
    JobState.RUNNING: _ENDS,
    JobState.SUCCESS: frozenset(),
    JobState.FAILURE: frozenset(),
    JobState.KILLED: frozenset(),
}
"""The states a job may move to from each state (`Job.moved` refuses any other move)."""

TRIAL_MOVES: dict[JobState, frozenset[JobState]] = {
    JobState.PENDING: frozenset({JobState.RUNNING}) | _FAILED,
    JobState.RUNNING: _ENDS,
    JobState.BUILDING: frozenset(),  # trials do not build: their job does
    JobState.SUCCESS: frozenset(),
    JobState.FAILURE: frozenset(),
    JobState.KILLED: frozenset(),
}
"""The states a trial may move to from each state (`Trial.moved` refuses any other move)."""


class JobFailure(StrEnum):
    """Why a job or trial ended FAILURE or KILLED, for code to decide on (the `reason` beside
    it is for people and may change wording)."""

    BUILD = "build"  # the environment: requirements that do not resolve or install
    INPUT = "input"  # refused by a check: a bundle without `train`, inputs no longer there
    RUN = "run"  # train exited non-zero, could not start, or no trial ran
    OUTPUT = "output"  # train exited 0 but broke the output contract (no model, bad metrics)
    TIMEOUT = "timeout"  # past its --timeout
    CANCELLED = "cancelled"  # `kaon train kill` (state KILLED)
    INTERRUPTED = "interrupted"  # the platform stopped or crashed while it ran
    INTERNAL = "internal"  # a bug of the platform (its traceback is in the build log)


def check_move(
    moves: dict[JobState, frozenset[JobState]], what: str, old: JobState, new: JobState
) -> None:
    """Raise InvalidTransition unless `moves` lets `what` go from `old` to `new`."""
    if new not in moves[old]:
        allowed = ", ".join(sorted(s.value for s in moves[old])) or "none: it is final"
        raise InvalidTransition(
            f"{what} cannot move from {old.value} to {new.value} (allowed: {allowed})"
        )


def workspace_name(value: str) -> WorkspaceName:
    """Workspace names are lowercased (kaos habit) and made of letters, digits and '_'."""
    name = value.strip().lower()
    if not _WORKSPACE.match(name):
        raise InvalidInput(
            f"invalid workspace name {value!r}: use 1-40 letters, digits or '_', "
            "starting with a letter or digit"
        )
    return WorkspaceName(name)


def new_job_id() -> JobId:
    return JobId(uuid.uuid4().hex)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Bundle:
    """A source or data bundle: the head of a bundle branch in a workspace repo.

    `digest` is the root tree digest, a pure content hash: the same files give the same
    bundle id whenever they are submitted. `path` is the kaos-style name, `/mnist:e23a2`."""

    kind: str  # "source" | "data"
    name: str
    repo: str
    branch: str
    commit: str
    digest: str
    author: str = ""
    size: int = 0
    files: int = 0

    @property
    def short(self) -> str:
        return self.digest[:SHORT]

    @property
    def path(self) -> str:
        return f"/{self.name}:{self.short}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "repo": self.repo,
            "branch": self.branch,
            "commit": self.commit,
            "digest": self.digest,
            "author": self.author,
            "size": self.size,
            "files": self.files,
            "path": self.path,
        }

    @staticmethod
    def from_dict(doc: dict[str, Any]) -> Bundle:
        return Bundle(
            kind=str(doc["kind"]),
            name=str(doc["name"]),
            repo=str(doc["repo"]),
            branch=str(doc["branch"]),
            commit=str(doc["commit"]),
            digest=str(doc["digest"]),
            author=str(doc.get("author", "")),
            size=int(doc.get("size", 0)),
            files=int(doc.get("files", 0)),
        )


@dataclass(frozen=True)
class Hyper:
    """A hyperparameter search: the space as submitted, how it is searched, and its id."""

    space: dict[str, Any]
    search: str = "grid"  # grid | random | optuna
    trials: int = 0  # random/optuna: how many trials; grid: the grid size
    objective: str | None = None
    direction: str = "maximize"
    digest: str = ""  # hash of the space and the search settings

    @property
    def short(self) -> str:
        return self.digest[:SHORT]

    def to_dict(self) -> dict[str, Any]:
        return {
            "space": self.space,
            "search": self.search,
            "trials": self.trials,
            "objective": self.objective,
            "direction": self.direction,
            "digest": self.digest,
        }

    @staticmethod
    def from_dict(doc: dict[str, Any]) -> Hyper:
        return Hyper(
            space=dict(doc["space"]),
            search=str(doc.get("search", "grid")),
            trials=int(doc.get("trials", 0)),
            objective=doc.get("objective"),
            direction=str(doc.get("direction", "maximize")),
            digest=str(doc.get("digest", "")),
        )


@dataclass(frozen=True)
class Resources:
    cpu: float | None = None
    memory: int | None = None  # bytes
    timeout: float | None = None  # seconds
    parallelism: int = 1
    sandbox: bool = False


@dataclass(frozen=True)
class Job:
    id: JobId
    workspace: WorkspaceName
    state: JobState
    created: float
    author: str
    source: Bundle
    data: Bundle
    hyper: Hyper | None = None
    resources: Resources = field(default_factory=Resources)
    started: float | None = None
    finished: float | None = None
    reason: str = ""  # why it failed or was killed, in words a user can act on
    env: dict[str, Any] = field(default_factory=dict)  # lock id, lock text, python, platform
    variables: dict[str, str] = field(default_factory=dict)  # --env, given to every trial
    failure: JobFailure | None = None  # why it ended FAILURE or KILLED (None: not failed, or
    # recorded before kinds were)

    @property
    def hyperopt(self) -> bool:
        return self.hyper is not None

    @property
    def duration(self) -> float | None:
        if self.started is None:
            return None
        return (self.finished or self.started) - self.started

    def moved(self, state: JobState, **changes: Any) -> Job:
        """This job in `state` (one of JOB_MOVES[self.state], else InvalidTransition)."""
        check_move(JOB_MOVES, f"job {self.id}", self.state, state)
        return replace(self, state=state, **changes)


@dataclass(frozen=True)
class Trial:
    """One run of `train` with one hyperparameter combination; it produces one model."""

    job: JobId
    index: int
    params: dict[str, Any]
    state: JobState = JobState.PENDING
    started: float | None = None
    finished: float | None = None
    exit_code: int | None = None
    model_id: ModelId | None = None
    model_commit: str | None = None
    model_path: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    failure: JobFailure | None = None  # why it ended FAILURE or KILLED, as for Job

    def moved(self, state: JobState, **changes: Any) -> Trial:
        """This trial in `state` (one of TRIAL_MOVES[self.state], else InvalidTransition)."""
        check_move(TRIAL_MOVES, f"trial {self.index} of job {self.job}", self.state, state)
        return replace(self, state=state, **changes)


def trial_name(params: dict[str, Any]) -> str:
    """kaos' file name of a combination: `degree=3_kernel=poly_gamma=0.01.json`."""
    if not params:
        return "params.json"
    return "_".join(f"{k}={v}" for k, v in params.items()) + ".json"


def make_model_id(source: Bundle, data: Bundle, hyper: Hyper | None, model_digest: str) -> ModelId:
    parts = [source.short, data.short] + ([hyper.short] if hyper else [])
    return ModelId("_".join(parts) + ":" + model_digest[:MODEL_SHORT])


def model_id(value: str) -> ModelId:
    if not _MODEL_ID.match(value):
        raise InvalidInput(
            f"invalid model id {value!r}: expected <code>_<data>[_<hyper>]:<model>, "
            "e.g. e23a2_9fd9d:b82151 (see `kaon train info`)"
        )
    return ModelId(value)
