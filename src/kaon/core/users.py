"""Users, their tokens and roles, and the one access decision every door (REST API, S3 gateway,
listings, jobs) makes: may this principal do this action on this workspace (or shared repo)?

- A **user** has a name and API tokens; the first user (made when a platform first starts,
  named after the OS user that started it) is an **admin**: every workspace, user management,
  gc. A local single-user platform never sees any of this: its token is the admin's.
- A **workspace** gives each user at most one role: OWNER (all, and sharing), EDITOR (read and
  write: deploy, put, kill) or VIEWER (list and get). Whoever creates a workspace owns it. A
  user with no role sees nothing of it (it answers as if it did not exist).
- **Shared repos** (of no workspace: `kaon create repo`) are the team's, as in Pachyderm
  without enterprise auth: every user reads and writes them.
- A **job** acts as its owner and no more, and only in its own workspace (plus shared repos):
  its API token and S3 key carry `workspace`, which narrows the owner's rights. A **pipeline
  job** (`<pipeline>@<global id>`: pipelines are global) acts as its pipeline version's author
  in the workspaces that author may reach, and only READS shared repos and pipelines: its
  output is its one output commit, never a write through the API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import NewType

from kaon.core.errors import InvalidInput

UserName = NewType("UserName", str)
TokenId = NewType("TokenId", str)

PIPELINE_JOB = "@"  # in a Principal's job: a pipeline job's key (training job ids are hex)

_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}\Z")


def user_name(value: str) -> UserName:
    if not _USER.match(value):
        raise InvalidInput(
            f"invalid user name {value!r}: use 1-63 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return UserName(value)


class Role(StrEnum):
    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"

    @staticmethod
    def parse(value: str) -> Role:
        try:
            return Role(value.lower())
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise InvalidInput(f"unknown role {value!r}: use one of {known}") from None


class Action(StrEnum):
    READ = "read"  # list, get, logs, provenance
    WRITE = "write"  # put, deploy, kill, create branches
    MANAGE = "manage"  # share, delete the workspace


_ALLOWED: dict[Role, frozenset[Action]] = {
    Role.VIEWER: frozenset({Action.READ}),
    Role.EDITOR: frozenset({Action.READ, Action.WRITE}),
    Role.OWNER: frozenset(Action),
}


def role_allows(role: Role | None, action: Action) -> bool:
    return role is not None and action in _ALLOWED[role]


@dataclass(frozen=True)
class User:
    name: UserName
    created: float
    admin: bool = False


@dataclass(frozen=True)
class ApiToken:
    """An API token's record (never its secret: only a hash of it is stored)."""

    id: TokenId
    user: UserName
    name: str  # what the user called it ("laptop", "platform", "job 1a2b3c4d")
    created: float
    expires: float | None = None  # None: until revoked
    workspace: str | None = None  # a job's token: only this workspace (and shared repos)
    job: str | None = None  # the job it was made for (revoked when the job ends)


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user, possibly through a job (narrowed to the job's workspace)."""

    user: UserName
    admin: bool = False
    workspace: str | None = None  # set for a job's token or key
    job: str | None = None  # a training job's id, or a pipeline job's `<pipeline>@<id>`

    @property
    def pipeline_job(self) -> bool:
        """Acting for a pipeline job (its datums' or service's token)."""
        return self.job is not None and PIPELINE_JOB in self.job

    def describe(self) -> str:
        if self.job and self.pipeline_job:
            pipeline, _, job = self.job.partition(PIPELINE_JOB)
            return f"pipeline job {pipeline}@{job[:8]} of user {self.user!r}"
        if self.job:
            return f"job {self.job[:8]} of user {self.user!r}"
        return f"user {self.user!r}"


def decide(principal: Principal, action: Action, workspace: str | None, role: Role | None) -> bool:
    """May `principal` (whose role in `workspace` is `role`) do `action` there?
    `workspace` None means a shared repo."""
    if workspace is None:
        if principal.pipeline_job and principal.workspace is None:  # its API token (its S3
            return action is Action.READ  # keys carry a scope of their own: s3access)
        return action is not Action.MANAGE or principal.job is None
    if principal.workspace is not None and principal.workspace != workspace:
        return False
    if principal.admin:
        return True
    return role_allows(role, action)
