"""S3 gateway access for a pipeline job's code (datums, services, spouts): the variables of
Pachyderm's S3 sidecar (`S3_ENDPOINT`) and the AWS ones, with a key pair of the job's own.

The key (one per job, shared by its datums; revoked when the job ends):
- acts as the pipeline version's author (the first admin's when the author is no user),
  narrowed to the shared repos — pipelines are global and read and write shared repos — so
  no workspace's repo is reachable whatever its author may reach;
- READS any shared repo it may read (the job's inputs: `s3://master.<repo>/<path>`, or a
  pinned commit `s3://<commit>.<repo>/…`); each commit read is recorded for the job
  (`reads(job)`: the facade puts them in the job's provenance, as a training job's are);
- WRITES nothing, except a spout's key, which writes its own output repo only (Pachyderm
  2.x's way for spouts: `aws s3 cp x s3://master.<spout>/x`, one commit per object). A
  datum's output goes to /pfs/out: through S3 it would bypass the job's one output commit.

The API (when `tokens` is given and the API listens): `KAON_ENDPOINT` and `KAON_TOKEN`, a token
of the job's own (the same for its datums; revoked with the key), acting as the pipeline
version's author in the workspaces the author may reach — so a release stage deploys, updates
and promotes endpoints there with `Client.from_env()`, each recorded as made by this job
(provenance: job → endpoint) — and only reading shared repos and pipelines
(kaon.core.users.decide). An author who is no user gets no token (KAON_ENDPOINT only: the SDK
answers 401 rather than starting a platform of its own).

The calls: the job runner's `datum_access(job, version) -> Mapping[str, str]` once per job
(the same mapping for every datum; empty when no gateway listens); `revoke(job)` once the
job ended, however it ended (wiring wraps the job runner); `take_reads(job)` when the job
succeeded, for its provenance (PipelineProvenance.job_succeeded). Spouts: `spout_access`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kaon.core.commit import Commit
from kaon.core.credentials import S3Credential
from kaon.core.errors import PermissionDenied
from kaon.core.pipelines.records import PipelineJob, PipelineVersion
from kaon.core.users import Action
from kaon.services.jobtokens import JobTokens
from kaon.services.s3.credentials import CredentialService, S3Env

# A job's key names a workspace; these two cannot be workspace names (kaon.core.jobs): the
# key reaches the shared repos only. Which one says whether it may write its own repo.
DATUM_SCOPE = "-pipeline"
SPOUT_SCOPE = "-spout"
KEPT_JOBS = 1000  # jobs whose reads are kept after their key went, until taken


def check_pipeline_key(who: S3Credential, action: Action, repo: str) -> None:
    """PermissionDenied when a pipeline job's key may not do `action` on `repo` (keys of
    anything else pass: the gateway's usual check decides)."""
    if who.workspace not in (DATUM_SCOPE, SPOUT_SCOPE) or action is Action.READ:
        return
    pipeline = (who.job or "").partition("@")[0]
    if who.workspace == SPOUT_SCOPE and repo == pipeline and action is Action.WRITE:
        return
    where = "its output goes to /pfs/out" if who.workspace == DATUM_SCOPE else ""
    raise PermissionDenied(
        f"Access Denied: the S3 key of pipeline job {who.job} only reads"
        + (f" ({where})" if where else f" and writes its own repo {pipeline!r}")
    )


@dataclass(frozen=True)
class Access:
    """What the job read through S3: one entry per commit."""

    repo: str
    commit: str
    path: str


class PipelineAccess:
    def __init__(
        self,
        keys: CredentialService,
        is_user: Callable[[str], bool],
        tokens: JobTokens | None = None,
    ) -> None:
        self._keys = keys
        self._is_user = is_user
        self._tokens = tokens
        self._envs: dict[str, dict[str, str]] = {}
        self._reads: dict[str, list[Access]] = {}
        self._lock = threading.Lock()

    def datum_access(self, job: PipelineJob, version: PipelineVersion) -> Mapping[str, str]:
        """A datum's (or a service's) variables: S3 (reads) and the API."""
        return self._grant(job, version, DATUM_SCOPE)

    def spout_access(self, job: PipelineJob, version: PipelineVersion) -> Mapping[str, str]:
        return self._grant(job, version, SPOUT_SCOPE)

    def _grant(self, job: PipelineJob, version: PipelineVersion, scope: str) -> dict[str, str]:
        with self._lock:
            known = self._envs.get(job.key)
            if known is not None:
                return known
            env: dict[str, str] = {}
            author = version.author
            endpoint = self._keys.endpoint
            if endpoint is not None:
                user = author if author and self._is_user(author) else None
                owner = f"pipeline job {job.key}" + (f" ({author})" if author else "")
                key = self._keys.issue(owner, job.key, scope, user)
                env |= S3Env(endpoint, key.access_key, key.secret).variables()
            api = self._tokens.for_pipeline_job(job.key, author) if self._tokens else None
            if api is not None:
                env |= api.variables()
            if not env:
                return env
            self._envs[job.key] = env
            self._reads[job.key] = []
            return env

    def revoke(self, job: PipelineJob) -> None:
        """The job ended: its key goes (what it read stays for `take_reads`)."""
        with self._lock:
            self._envs.pop(job.key, None)
            while len(self._reads) > KEPT_JOBS:  # reads of failed jobs nobody took
                self._reads.pop(next(iter(self._reads)))
        self._keys.revoke_job(job.key)
        if self._tokens is not None:
            self._tokens.revoke_job(job.key)

    def recorded(self, job_key: str, commit: Commit, path: str, wrote: bool) -> None:
        """The gateway's observer (ObjectService.on_job_access): a job's key read or wrote."""
        with self._lock:
            found = self._reads.get(job_key)
            if found is not None and not wrote:
                found.append(Access(str(commit.repo), str(commit.id), path))

    def reads(self, job: PipelineJob) -> list[Access]:
        """The commits `job`'s code read through S3 so far (for its provenance)."""
        with self._lock:
            return list(self._reads.get(job.key, ()))

    def take_reads(self, job: PipelineJob) -> list[Access]:
        """`reads(job)`, forgotten here (the job's provenance now has them)."""
        with self._lock:
            return self._reads.pop(job.key, [])
