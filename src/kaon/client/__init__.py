"""The Python SDK: `kaon.client.Client` is the platform's API, typed, and the one way to do
what the CLI does (the CLI only parses arguments, calls it and prints).

    from kaon.client import Client
    with Client.from_env() as client:   # `kaon init`'s endpoint, else the local platform
        client.create_repo("inputrepo")
        client.put("inputrepo@master:/data/mnist.npz", "mnist.npz")
        job = client.wait(client.train("mnist", source="model-train", data="data"))

Calls return the dataclasses below; a failure raises a KaonError subclass (the server's
errors come back as the same class). States are kaon.core's JobState and EndpointState;
pipelines' are PipelineState, PipelineJobState and DatumState (kaon.client.pipelines).
"""

from kaon.client.client import Client
from kaon.client.compare import OutputComparison
from kaon.client.jobfiles import JobFiles
from kaon.client.models import (
    AuditRecord,
    BranchInfo,
    BundleInfo,
    Change,
    CommitInfo,
    DatumInfo,
    EndpointInfo,
    FeedbackInfo,
    FileInfo,
    GcReport,
    JobInfo,
    MemberInfo,
    NewToken,
    PipelineInfo,
    PipelineJobInfo,
    PipelineLogLine,
    PipelinesCreated,
    ProvenanceInfo,
    ReleaseInfo,
    RepoInfo,
    S3CredentialInfo,
    TokenInfo,
    TransferStats,
    TrialInfo,
    UserInfo,
    VersionInfo,
    WhoAmI,
    WorkspaceInfo,
)
from kaon.client.reporter import Printed, Quiet, Reporter
from kaon.client.results import GetResult, PutResult
from kaon.core.endpoints import EndpointState
from kaon.core.errors import (
    AlreadyExists,
    BackendUnavailable,
    Busy,
    Conflict,
    Forbidden,
    InvalidBundle,
    InvalidInput,
    KaonError,
    NotFound,
    PermissionDenied,
    StorageFull,
)
from kaon.core.jobs import JobState
from kaon.core.pipelines.records import DatumState, PipelineState
from kaon.core.pipelines.records import JobState as PipelineJobState

__all__ = [
    "AlreadyExists",
    "AuditRecord",
    "BackendUnavailable",
    "BranchInfo",
    "BundleInfo",
    "Busy",
    "Change",
    "Client",
    "CommitInfo",
    "Conflict",
    "DatumInfo",
    "DatumState",
    "EndpointInfo",
    "EndpointState",
    "FeedbackInfo",
    "FileInfo",
    "Forbidden",
    "GcReport",
    "GetResult",
    "InvalidBundle",
    "InvalidInput",
    "JobFiles",
    "JobInfo",
    "JobState",
    "KaonError",
    "MemberInfo",
    "NewToken",
    "NotFound",
    "OutputComparison",
    "PermissionDenied",
    "PipelineInfo",
    "PipelineJobInfo",
    "PipelineJobState",
    "PipelineLogLine",
    "PipelineState",
    "PipelinesCreated",
    "Printed",
    "ProvenanceInfo",
    "PutResult",
    "Quiet",
    "ReleaseInfo",
    "RepoInfo",
    "Reporter",
    "S3CredentialInfo",
    "StorageFull",
    "TokenInfo",
    "TransferStats",
    "TrialInfo",
    "UserInfo",
    "VersionInfo",
    "WhoAmI",
    "WorkspaceInfo",
]
