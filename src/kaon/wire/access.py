"""Wire types of who may do what: users, API tokens, workspace members, S3 access keys, and
the audit log of what they did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from kaon.wire.base import JSON_TEXT, Answer, doc

# -- users and tokens -----------------------------------------------------------------------


@dataclass(frozen=True)
class UserInfo(Answer):
    name: str
    admin: bool
    created: float
    workspaces: dict[str, str] = field(
        metadata=doc("workspace -> role, only the workspaces the caller may see")
    )


@dataclass(frozen=True)
class TokenInfo(Answer):
    """An API token's record: never its secret."""

    id: str
    user: str
    name: str
    created: float
    expires: float | None
    workspace: str | None = field(default=None, metadata=doc("a job's token: only this workspace"))
    job: str | None = None


@dataclass(frozen=True)
class NewUser(Answer):
    """A user just made and their first token: `secret` is shown only now."""

    user: UserInfo
    token: TokenInfo
    secret: str = field(metadata=doc("the token itself: shown only in this answer"))


@dataclass(frozen=True)
class NewToken(Answer):
    """A token just made: `secret` is shown only now (`KAON_TOKEN=<secret> kaon ...`)."""

    token: TokenInfo
    secret: str = field(metadata=doc("the token itself: shown only in this answer"))


@dataclass(frozen=True)
class WhoAmI(Answer):
    user: str
    admin: bool
    token: TokenInfo | None = field(default=None, metadata=doc("the token this request carried"))
    workspace: str | None = field(
        default=None, metadata=doc("set when a job's token narrows the user")
    )
    job: str | None = None


# -- workspace members ----------------------------------------------------------------------


@dataclass(frozen=True)
class MemberInfo(Answer):
    workspace: str
    user: str
    role: str  # owner, editor or viewer


# -- S3 access keys -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class S3CredentialInfo(Answer):
    access_key: str
    secret: str | None = field(
        default=None, metadata=doc("only in the answer that creates the key")
    )
    owner: str
    created: float
    job: str | None = None
    scope: str = field(
        default="*",
        metadata=doc(
            "what the key reaches: '*' what its user may, 'workspace:<name>' (a "
            "job's) what its user may among the shared repos and that workspace's"
        ),
    )
    user: str | None = field(
        default=None,
        metadata=doc("the user whose rights the key carries (none: the first admin's)"),
    )
    endpoint: str | None = field(default=None, metadata=doc("the S3 gateway's URL"))
    region: str = "us-east-1"


# -- the audit log --------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditRecord(Answer):
    """One write or permission change from the audit log (`kaon audit`)."""

    id: int = field(metadata=doc("increasing with the order entries were written"))
    at: float = field(metadata=doc("when it was answered, Unix seconds"))
    user: str = field(metadata=doc('who asked ("" when authentication failed)'))
    action: str = field(metadata=doc('"POST /v1/workspaces/{name}/train", "S3 PutObject", …'))
    target: str = field(metadata=doc("the concrete path, or S3 bucket/key"))
    workspace: str | None = field(metadata=doc("the workspace it touched (null: none, shared)"))
    status: int = field(metadata=doc("the HTTP status it answered"))
    detail: Annotated[dict[str, Any], JSON_TEXT] = field(
        metadata=doc("a JSON object: client address, job, query, ids")
    )
