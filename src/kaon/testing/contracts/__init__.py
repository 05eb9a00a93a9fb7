"""Every contract suite, as pytest test classes (`from kaon.testing.contracts import *`
collects them all in a backend's test module; see kaon.testing)."""

from kaon.testing.contracts.chunks import ChunkIndexContract, LeaseStoreContract
from kaon.testing.contracts.cluster import ClusterStoreContract
from kaon.testing.contracts.credentials import CredentialStoreContract
from kaon.testing.contracts.endpoints import EndpointStoreContract, ReleaseStoreContract
from kaon.testing.contracts.jobs import JobStoreContract
from kaon.testing.contracts.metadata import (
    CommitIndexContract,
    RefStoreContract,
    RepoStoreContract,
)
from kaon.testing.contracts.notebooks import NotebookStoreContract
from kaon.testing.contracts.pipelines import PipelineStoreContract
from kaon.testing.contracts.placement import PlacementStoreContract
from kaon.testing.contracts.provenance import ProvenanceStoreContract
from kaon.testing.contracts.s3uploads import UploadStoreContract
from kaon.testing.contracts.stagings import StagingStoreContract
from kaon.testing.contracts.users import UserStoreContract
from kaon.testing.contracts.workspaces import WorkspaceStoreContract


class TestRepoStore(RepoStoreContract):
    pass


class TestNotebookStore(NotebookStoreContract):
    pass


class TestRefStore(RefStoreContract):
    pass


class TestCommitIndex(CommitIndexContract):
    pass


class TestChunkIndex(ChunkIndexContract):
    pass


class TestLeaseStore(LeaseStoreContract):
    pass


class TestWorkspaceStore(WorkspaceStoreContract):
    pass


class TestJobStore(JobStoreContract):
    pass


class TestEndpointStore(EndpointStoreContract):
    pass


class TestReleaseStore(ReleaseStoreContract):
    pass


class TestPipelineStore(PipelineStoreContract):
    pass


class TestProvenanceStore(ProvenanceStoreContract):
    pass


class TestCredentialStore(CredentialStoreContract):
    pass


class TestUserStore(UserStoreContract):
    pass


class TestClusterStore(ClusterStoreContract):
    pass


class TestPlacementStore(PlacementStoreContract):
    pass


class TestStagingStore(StagingStoreContract):
    pass


class TestUploadStore(UploadStoreContract):
    pass


__all__ = [
    "ChunkIndexContract",
    "ClusterStoreContract",
    "CommitIndexContract",
    "CredentialStoreContract",
    "EndpointStoreContract",
    "JobStoreContract",
    "LeaseStoreContract",
    "NotebookStoreContract",
    "PipelineStoreContract",
    "PlacementStoreContract",
    "ProvenanceStoreContract",
    "RefStoreContract",
    "ReleaseStoreContract",
    "RepoStoreContract",
    "StagingStoreContract",
    "TestChunkIndex",
    "TestClusterStore",
    "TestCommitIndex",
    "TestCredentialStore",
    "TestEndpointStore",
    "TestJobStore",
    "TestLeaseStore",
    "TestNotebookStore",
    "TestPipelineStore",
    "TestPlacementStore",
    "TestProvenanceStore",
    "TestRefStore",
    "TestReleaseStore",
    "TestRepoStore",
    "TestStagingStore",
    "TestUploadStore",
    "TestUserStore",
    "TestWorkspaceStore",
    "UploadStoreContract",
    "UserStoreContract",
    "WorkspaceStoreContract",
]
