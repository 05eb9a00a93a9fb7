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

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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

# The names below are imported on first use (PEP 562): `kaon up` and the CLI's commands reach
# kaon.client's submodules (local, state, putget) without importing the whole SDK (~0.1 s).
# tests/client/test_exports.py checks this table against the imports above.
_EXPORTS: dict[str, tuple[str, str]] = {
    "AlreadyExists": ("kaon.core.errors", "AlreadyExists"),
    "AuditRecord": ("kaon.client.models", "AuditRecord"),
    "BackendUnavailable": ("kaon.core.errors", "BackendUnavailable"),
    "BranchInfo": ("kaon.client.models", "BranchInfo"),
    "BundleInfo": ("kaon.client.models", "BundleInfo"),
    "Busy": ("kaon.core.errors", "Busy"),
    "Change": ("kaon.client.models", "Change"),
    "Client": ("kaon.client.client", "Client"),
    "CommitInfo": ("kaon.client.models", "CommitInfo"),
    "Conflict": ("kaon.core.errors", "Conflict"),
    "DatumInfo": ("kaon.client.models", "DatumInfo"),
    "DatumState": ("kaon.core.pipelines.records", "DatumState"),
    "EndpointInfo": ("kaon.client.models", "EndpointInfo"),
    "EndpointState": ("kaon.core.endpoints", "EndpointState"),
    "FeedbackInfo": ("kaon.client.models", "FeedbackInfo"),
    "FileInfo": ("kaon.client.models", "FileInfo"),
    "Forbidden": ("kaon.core.errors", "Forbidden"),
    "GcReport": ("kaon.client.models", "GcReport"),
    "GetResult": ("kaon.client.results", "GetResult"),
    "InvalidBundle": ("kaon.core.errors", "InvalidBundle"),
    "InvalidInput": ("kaon.core.errors", "InvalidInput"),
    "JobFiles": ("kaon.client.jobfiles", "JobFiles"),
    "JobInfo": ("kaon.client.models", "JobInfo"),
    "JobState": ("kaon.core.jobs", "JobState"),
    "KaonError": ("kaon.core.errors", "KaonError"),
    "MemberInfo": ("kaon.client.models", "MemberInfo"),
    "NewToken": ("kaon.client.models", "NewToken"),
    "NotFound": ("kaon.core.errors", "NotFound"),
    "OutputComparison": ("kaon.client.compare", "OutputComparison"),
    "PermissionDenied": ("kaon.core.errors", "PermissionDenied"),
    "PipelineInfo": ("kaon.client.models", "PipelineInfo"),
    "PipelineJobInfo": ("kaon.client.models", "PipelineJobInfo"),
    "PipelineJobState": ("kaon.core.pipelines.records", "JobState"),
    "PipelineLogLine": ("kaon.client.models", "PipelineLogLine"),
    "PipelineState": ("kaon.core.pipelines.records", "PipelineState"),
    "PipelinesCreated": ("kaon.client.models", "PipelinesCreated"),
    "Printed": ("kaon.client.reporter", "Printed"),
    "ProvenanceInfo": ("kaon.client.models", "ProvenanceInfo"),
    "PutResult": ("kaon.client.results", "PutResult"),
    "Quiet": ("kaon.client.reporter", "Quiet"),
    "ReleaseInfo": ("kaon.client.models", "ReleaseInfo"),
    "RepoInfo": ("kaon.client.models", "RepoInfo"),
    "Reporter": ("kaon.client.reporter", "Reporter"),
    "S3CredentialInfo": ("kaon.client.models", "S3CredentialInfo"),
    "StorageFull": ("kaon.core.errors", "StorageFull"),
    "TokenInfo": ("kaon.client.models", "TokenInfo"),
    "TransferStats": ("kaon.client.models", "TransferStats"),
    "TrialInfo": ("kaon.client.models", "TrialInfo"),
    "UserInfo": ("kaon.client.models", "UserInfo"),
    "VersionInfo": ("kaon.client.models", "VersionInfo"),
    "WhoAmI": ("kaon.client.models", "WhoAmI"),
    "WorkspaceInfo": ("kaon.client.models", "WorkspaceInfo"),
}


def __getattr__(name: str) -> object:
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


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
