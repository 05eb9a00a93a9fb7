"""Several API servers sharing one platform: who is alive, and who owns which live work.

Everything durable lives in the database and the object store, so any server answers any
request. What is bound to a process (a running trial, an endpoint's replicas, a pipeline's
scheduler, gc) is *claimed* by one server for a short lease it keeps renewing; a server that
stops renewing loses its claims when they expire, and a live server takes the work over the
way a restarted server recovers its own (docs/architecture.md, "Several servers").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

HEARTBEAT_SECONDS = 5.0  # a server renews its record and its claims this often
CLAIM_SECONDS = 30.0  # a claim not renewed for this long is free for another server


class ClaimKind(StrEnum):
    JOB = "job"  # key: the job id; the owner runs its trials and holds its live log
    ENDPOINT = "endpoint"  # key: the endpoint (version) name; the owner runs its replicas
    PIPELINES = "pipelines"  # key: "scheduler"; the owner runs jobs, crons, spouts, triggers
    GC = "gc"  # key: "gc"; held while one gc runs anywhere
    NOTEBOOK = "notebook"  # key: the notebook's name; the owner runs its JupyterLab (never
    # taken over: its working folder is on the owner's disk)


@dataclass(frozen=True)
class ServerRecord:
    id: str  # one per server process (a uuid, hex)
    url: str  # the API's base URL the other servers reach it at (KAON_ADVERTISE_URL)
    started: float
    seen: float  # its last heartbeat (seconds since the epoch)


@dataclass(frozen=True)
class Claim:
    kind: ClaimKind
    key: str
    owner: str  # a ServerRecord.id
    expires: float
