"""The API's wire types, each written once: the server (kaon.api) documents, validates and
answers with them, the SDK (kaon.client) decodes its answers into them.

An answer is a frozen standard-library dataclass (here): FastAPI serializes and documents it,
the SDK decodes it (`decode`, `Answer.from_doc`) and returns it as it is. A request body is a
pydantic model (kaon.wire.requests; `Strict` ones refuse an unknown field with 400), imported
by the server only. The package imports kaon.core and, for requests, pydantic (lint-imports):
the SDK imports no pydantic. Core objects become answers in one place: kaon.api.answers."""

from kaon.wire.access import (
    AuditRecord,
    MemberInfo,
    NewToken,
    NewUser,
    S3CredentialInfo,
    TokenInfo,
    UserInfo,
    WhoAmI,
)
from kaon.wire.base import Answer, decode, decode_list
from kaon.wire.data import (
    BranchInfo,
    Change,
    CommitInfo,
    DropOut,
    ErrorOut,
    FileInfo,
    GcReport,
    HealthOut,
    LocalContentOut,
    LocalFileOut,
    MissingOut,
    PackOut,
    RepoInfo,
    StagedOut,
    StagingOut,
)
from kaon.wire.jobs import (
    BundleInfo,
    EndpointInfo,
    JobInfo,
    LogOut,
    ProvenanceInfo,
    TrialInfo,
    WorkspaceInfo,
)

__all__ = [
    "Answer",
    "AuditRecord",
    "BranchInfo",
    "BundleInfo",
    "Change",
    "CommitInfo",
    "DropOut",
    "EndpointInfo",
    "ErrorOut",
    "FileInfo",
    "GcReport",
    "HealthOut",
    "JobInfo",
    "LocalContentOut",
    "LocalFileOut",
    "LogOut",
    "MemberInfo",
    "MissingOut",
    "NewToken",
    "NewUser",
    "PackOut",
    "ProvenanceInfo",
    "RepoInfo",
    "S3CredentialInfo",
    "StagedOut",
    "StagingOut",
    "TokenInfo",
    "TrialInfo",
    "UserInfo",
    "WhoAmI",
    "WorkspaceInfo",
    "decode",
    "decode_list",
]
