"""What a running job reaches: an S3 key pair and an API token of its own, made when it starts
running, revoked when it ends (and at start-up for jobs a stop interrupted)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kaon.core.jobs import Job
from kaon.ports.envbuilder import LogSink
from kaon.services.jobtokens import ApiEnv, JobTokens
from kaon.services.s3.credentials import CredentialService, S3Env

log = logging.getLogger("kaon.training")


@dataclass(frozen=True)
class Access:
    s3: S3Env | None  # the S3 gateway: endpoint and key pair (None: no gateway)
    api: ApiEnv | None  # the API: endpoint and token (None: no API tokens here)


class JobAccess:
    def __init__(self, keys: CredentialService | None, tokens: JobTokens | None) -> None:
        self._keys = keys
        self._tokens = tokens

    def grant(self, job: Job, train_log: LogSink) -> Access:
        """S3 gateway access for the job's code: a key pair of its own, so what it reads and
        writes through S3 is in its provenance; it reaches the shared repos and its own
        workspace's, no other workspace's. The API likewise: a token acting as the job's
        author in its workspace only."""
        s3 = self._keys.for_job(job.id, job.author, job.workspace) if self._keys else None
        api = None
        if self._tokens is not None:
            api = self._tokens.for_job(job.id, job.author, job.workspace)
            if api is not None and api.token is None:
                train_log(
                    f"no API token for this job: its author {job.author!r} is not a user of "
                    "this platform (`kaon user list`); KAON_TOKEN is not set"
                )
        return Access(s3, api)

    def revoke(self, job: Job) -> None:
        if self._keys is not None:
            self._keys.revoke_job(job.id)
        if self._tokens is not None:
            self._tokens.revoke_job(job.id)

    def revoke_stale(self, running: set[str]) -> None:
        """Revoke the keys and tokens of every job not in `running` (interrupted jobs never
        revoked theirs)."""
        if self._keys is not None:
            for job_id in self._keys.revoke_stale(running):
                log.warning("revoked the S3 keys of job %s, which is not running", job_id)
        if self._tokens is not None:
            for job_id in self._tokens.revoke_stale(running):
                log.warning("revoked the API token of job %s, which is not running", job_id)
