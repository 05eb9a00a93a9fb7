"""Wire types of who may do what: users, API tokens, workspace members, S3 access keys, and
the audit log of what they did."""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic.dataclasses import dataclass

from kaon.wire.base import USER, Answer, JsonText, Strict

# -- users and tokens -----------------------------------------------------------------------


class UserIn(Strict):
    name: str = Field(pattern=USER)
    admin: bool = Field(False, strict=True)


@dataclass(frozen=True)
class UserInfo(Answer):
    name: str
    admin: bool
    created: float
    workspaces: dict[str, str] = Field(
        description="workspace -> role, only the workspaces the caller may see"
    )


class TokenIn(Strict):
    name: str = Field("", max_length=100, description="what the token is for (e.g. laptop)")
    expires: str | None = Field(None, description="a lifetime such as 30d, 12h (none: never)")


@dataclass(frozen=True)
class TokenInfo(Answer):
    """An API token's record: never its secret."""

    id: str
    user: str
    name: str
    created: float
    expires: float | None
    workspace: str | None = Field(default=None, description="a job's token: only this workspace")
    job: str | None = None


@dataclass(frozen=True)
class NewUser(Answer):
    """A user just made and their first token: `secret` is shown only now."""

    user: UserInfo
    token: TokenInfo
    secret: str = Field(description="the token itself: shown only in this answer")


@dataclass(frozen=True)
class NewToken(Answer):
    """A token just made: `secret` is shown only now (`KAON_TOKEN=<secret> kaon ...`)."""

    token: TokenInfo
    secret: str = Field(description="the token itself: shown only in this answer")


@dataclass(frozen=True)
class WhoAmI(Answer):
    user: str
    admin: bool
    token: TokenInfo | None = Field(default=None, description="the token this request carried")
    workspace: str | None = Field(
        default=None, description="set when a job's token narrows the user"
    )
    job: str | None = None


# -- workspace members ----------------------------------------------------------------------


class MemberIn(Strict):
    role: str = Field(
        description="owner, editor or viewer",
        json_schema_extra={"enum": ["owner", "editor", "viewer"]},
    )


@dataclass(frozen=True)
class MemberInfo(Answer):
    workspace: str
    user: str
    role: str  # owner, editor or viewer


# -- S3 access keys -------------------------------------------------------------------------


class S3CredentialIn(BaseModel):
    owner: str = Field(
        "", description="a label for the key; it acts for the caller, whose name its commits show"
    )


@dataclass(frozen=True, kw_only=True)
class S3CredentialInfo(Answer):
    access_key: str
    secret: str | None = Field(default=None, description="only in the answer that creates the key")
    owner: str
    created: float
    job: str | None = None
    scope: str = Field(
        default="*",
        description="what the key reaches: '*' what its user may, 'workspace:<name>' (a "
        "job's) what its user may among the shared repos and that workspace's",
    )
    user: str | None = Field(
        default=None, description="the user whose rights the key carries (none: the first admin's)"
    )
    endpoint: str | None = Field(default=None, description="the S3 gateway's URL")
    region: str = "us-east-1"


# -- the audit log --------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditRecord(Answer):
    """One write or permission change from the audit log (`kaon audit`)."""

    id: int = Field(description="increasing with the order entries were written")
    at: float = Field(description="when it was answered, Unix seconds")
    user: str = Field(description='who asked ("" when authentication failed)')
    action: str = Field(description='"POST /v1/workspaces/{name}/train", "S3 PutObject", …')
    target: str = Field(description="the concrete path, or S3 bucket/key")
    workspace: str | None = Field(description="the workspace it touched (null: none, shared)")
    status: int = Field(description="the HTTP status it answered")
    detail: JsonText = Field(description="a JSON object: client address, job, query, ids")
