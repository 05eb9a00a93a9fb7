"""API access for running jobs: KAON_ENDPOINT and a token of the job's own in KAON_TOKEN.

The token acts as the job's owner (its author, when that is a user of the platform) narrowed
to the job's workspace and the shared repos (kaon.core.users), never as the platform: it is
made when the job starts running and revoked when it ends, however it ends; at start-up the
tokens of every job not running are revoked (a server killed mid-job never reached the end).
A job whose author is no user (submitted before users existed) gets KAON_ENDPOINT only: the
SDK then answers 401 with how to get a token, instead of starting a platform of its own.
A pipeline job's token (`for_pipeline_job`, given to its datums, service or spout by
kaon.services.pipelines.s3access) acts as the pipeline version's author, in every workspace
the author may reach, and only reads shared repos and pipelines.
"""

from __future__ import annotations

from dataclasses import dataclass

from kaon.services.users import UserService


@dataclass(frozen=True)
class ApiEnv:
    """The API's URL and, when the owner is a user, the job's token: environment variables."""

    endpoint: str
    token: str | None

    def variables(self) -> dict[str, str]:
        found = {"KAON_ENDPOINT": self.endpoint}
        return found | ({"KAON_TOKEN": self.token} if self.token else {})


class JobTokens:
    def __init__(self, users: UserService) -> None:
        self._users = users
        self.endpoint: str | None = None  # the API's URL, set by the server once it listens

    def for_job(self, job: str, owner: str, workspace: str) -> ApiEnv | None:
        """The variables for `job` of `owner` in `workspace`; None while no API listens."""
        if self.endpoint is None:
            return None
        return ApiEnv(self.endpoint, self._users.for_job(job, owner, workspace))

    def for_pipeline_job(self, key: str, author: str) -> ApiEnv | None:
        """The variables for pipeline job `key` (`<pipeline>@<id>`) of `author`: a token acting
        as the author in the workspaces the author may reach, reading shared repos and
        pipelines only (kaon.core.users.decide); None while no API listens."""
        if self.endpoint is None:
            return None
        return ApiEnv(self.endpoint, self._users.for_job(key, author, None))

    def revoke_job(self, job: str) -> None:
        self._users.revoke_job(job)

    def revoke_stale(self, running: set[str]) -> tuple[str, ...]:
        """Revoke the tokens of every job not in `running`; the jobs whose tokens went."""
        return self._users.revoke_stale(running)
