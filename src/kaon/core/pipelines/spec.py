"""A pipeline spec as kaon holds it: Pachyderm's fields that have an effect here, typed.

`kaon.core.pipelines.parse` turns a JSON/YAML document into a `PipelineSpec` (refusing unknown
fields with a did-you-mean, and warning about known Pachyderm fields with no effect here);
`parse.spec_doc(spec)` gives it back as a canonical document (what is versioned and hashed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Reprocess(StrEnum):
    UNTIL_SUCCESS = "until_success"  # skip a datum whose hash already succeeded (default)
    EVERY_JOB = "every_job"  # never skip (side effects such as deployments)


class Combine(StrEnum):
    CROSS = "cross"
    UNION = "union"
    JOIN = "join"
    GROUP = "group"


@dataclass(frozen=True)
class Trigger:
    """`input.pfs.trigger` (Pachyderm 2.x): a job starts on this input only once `commits`
    new commits, or `size` more bytes, arrived on its branch since the commit the last job
    took (both with `all`); in between the input stays at that commit."""

    commits: int = 0  # 0: not a condition
    size: int = 0  # bytes; 0: not a condition
    all: bool = False  # every condition given must hold (default: any)


@dataclass(frozen=True)
class PfsInput:
    """`input.pfs`: files of a repo branch, cut into datums by `glob`, seen at /pfs/<name>."""

    repo: str
    name: str  # defaults to the repo's name
    branch: str = "master"
    glob: str = "/"
    empty_files: bool = False  # files are seen with their names but no content
    lazy: bool = False  # accepted: files are fetched as they are read where the backend can
    join_on: str = ""  # in a join: "$1" etc. (capture groups of glob)
    outer_join: bool = False
    group_by: str = ""  # in a group: "$1" etc.
    trigger: Trigger | None = None  # jobs only when enough arrived (kaon.services.pipelines)


@dataclass(frozen=True)
class CronInput:
    """`input.cron`: a tick commits a file named by its RFC 3339 time to `repo`."""

    name: str
    spec: str  # "*/10 * * * *", "@daily", "@every 1h"
    repo: str  # defaults to "<pipeline>_<name>"
    overwrite: bool = False  # each tick replaces the previous tick's file
    start: str = ""  # RFC 3339; empty: now


@dataclass(frozen=True)
class CombinedInput:
    """`input.cross` / `union` / `join` / `group`: several inputs combined into datums."""

    kind: Combine
    inputs: tuple[Input, ...]


Input = PfsInput | CronInput | CombinedInput


@dataclass(frozen=True)
class Transform:
    cmd: tuple[str, ...]
    stdin: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()  # sorted (name, value)
    working_dir: str = ""
    accept_return_code: tuple[int, ...] = ()
    err_cmd: tuple[str, ...] = ()
    err_stdin: tuple[str, ...] = ()
    image: str = ""  # recorded; there is no container runtime here
    source: str = ""  # kaon: a source bundle folder (code + requirements.txt), relative to
    # the spec file; the client uploads it and the server records its commit
    datum_batching: bool = False


@dataclass(frozen=True)
class Resources:
    cpu: float | None = None
    memory: int | None = None  # bytes
    gpu: int = 0  # refused at run time where no GPU exists
    disk: int | None = None  # bytes; recorded
    gpu_type: str = ""  # e.g. "nvidia.com/gpu" (gpu: {type, number}); recorded


@dataclass(frozen=True)
class Service:
    internal_port: int
    external_port: int = 0


@dataclass(frozen=True)
class Spout:
    overwrite: bool = False


@dataclass(frozen=True)
class PipelineSpec:
    name: str  # also the output repo
    transform: Transform
    input: Input | None = None  # None only for a spout
    description: str = ""
    parallelism: int = 1  # parallelism_spec.constant
    datum_tries: int = 3
    datum_timeout: float | None = None  # seconds
    job_timeout: float | None = None  # seconds
    requests: Resources = field(default_factory=Resources)
    limits: Resources = field(default_factory=Resources)
    output_branch: str = "master"
    reprocess: Reprocess = Reprocess.UNTIL_SUCCESS
    service: Service | None = None
    spout: Spout | None = None
    ignored: tuple[str, ...] = ()  # known Pachyderm fields accepted with no effect here
