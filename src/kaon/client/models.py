"""What the SDK returns: the API's answers as kaon.wire defines them (once, for the server
and the SDK: frozen dataclasses with typed fields, states as kaon.core enums), and what the
SDK itself adds (TransferStats)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from kaon.wire import (
    AuditRecord,
    BackendOut,
    BranchInfo,
    BundleInfo,
    Change,
    CommitInfo,
    CommitWait,
    DatumCountsInfo,
    DatumInfo,
    EndpointInfo,
    FeedbackInfo,
    FileInfo,
    GcReport,
    HealthOut,
    JobInfo,
    JobInputInfo,
    JobStatsInfo,
    LogDatumFile,
    LogOut,
    MemberInfo,
    NewToken,
    NewUser,
    PipelineInfo,
    PipelineJobInfo,
    PipelineLogLine,
    PipelineLogPage,
    PipelinesCreated,
    ProvenanceInfo,
    ReleaseInfo,
    RepoInfo,
    S3CredentialInfo,
    StatusOut,
    TokenInfo,
    TrialInfo,
    TrialsPage,
    UserInfo,
    VersionInfo,
    WhoAmI,
    WorkspaceInfo,
    decode,
)

T = TypeVar("T")

__all__ = [
    "AuditRecord",
    "BackendOut",
    "BranchInfo",
    "BundleInfo",
    "Change",
    "CommitInfo",
    "CommitWait",
    "DatumCountsInfo",
    "DatumInfo",
    "EndpointInfo",
    "FeedbackInfo",
    "FileInfo",
    "GcReport",
    "HealthOut",
    "JobInfo",
    "JobInputInfo",
    "JobStatsInfo",
    "LogDatumFile",
    "LogOut",
    "MemberInfo",
    "NewToken",
    "NewUser",
    "PipelineInfo",
    "PipelineJobInfo",
    "PipelineLogLine",
    "PipelineLogPage",
    "PipelinesCreated",
    "ProvenanceInfo",
    "ReleaseInfo",
    "RepoInfo",
    "S3CredentialInfo",
    "StatusOut",
    "TokenInfo",
    "TransferStats",
    "TrialInfo",
    "TrialsPage",
    "UserInfo",
    "VersionInfo",
    "WhoAmI",
    "WorkspaceInfo",
    "from_json",
]


def from_json(cls: type[T], doc: dict[str, Any]) -> T:
    """The answer `cls` from its JSON document (kaon.wire.decode)."""
    return decode(cls, doc)


@dataclass(frozen=True)
class TransferStats:
    files: int
    bytes: int
    chunks: int
    new_chunks: int
    new_bytes: int
    sent_bytes: int
    cached_files: int
    seconds: float
    sent_via: str = ""  # "drop" (the server's folder on this machine), "http", "" (nothing sent)
