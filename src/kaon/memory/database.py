"""MemoryDatabase: the MetadataDatabase port in memory (`memory://`): every store over one set
of shared tables."""

from __future__ import annotations

from functools import cached_property

from kaon.core.backends import BackendHealth, BackendRole
from kaon.memory.cluster import MemoryClusterStore
from kaon.memory.credentials import MemoryCredentialStore
from kaon.memory.endpoints import MemoryEndpointStore
from kaon.memory.jobs import MemoryJobStore
from kaon.memory.metadata import MemoryMetadataStore
from kaon.memory.notebooks import MemoryNotebookStore
from kaon.memory.pipelines import MemoryPipelineStore
from kaon.memory.placement import MemoryPlacementStore
from kaon.memory.provenance import MemoryProvenanceStore
from kaon.memory.releases import MemoryReleaseStore
from kaon.memory.s3uploads import MemoryUploadStore
from kaon.memory.stagings import MemoryStagingStore
from kaon.memory.tables import Tables
from kaon.memory.users import MemoryUserStore
from kaon.memory.workspaces import MemoryWorkspaceStore


class MemoryDatabase:
    """A fresh, empty metadata database in this process (gone with it)."""

    def __init__(self) -> None:
        self.tables = Tables()

    def __repr__(self) -> str:
        return f"MemoryDatabase({len(self.tables.repos)} repos)"

    @cached_property
    def metadata(self) -> MemoryMetadataStore:
        return MemoryMetadataStore(self.tables)

    @cached_property
    def workspaces(self) -> MemoryWorkspaceStore:
        return MemoryWorkspaceStore(self.tables)

    @cached_property
    def jobs(self) -> MemoryJobStore:
        return MemoryJobStore(self.tables)

    @cached_property
    def notebooks(self) -> MemoryNotebookStore:
        return MemoryNotebookStore(self.tables)

    @cached_property
    def endpoints(self) -> MemoryEndpointStore:
        return MemoryEndpointStore(self.tables)

    @cached_property
    def releases(self) -> MemoryReleaseStore:
        return MemoryReleaseStore(self.tables)

    @cached_property
    def provenance(self) -> MemoryProvenanceStore:
        return MemoryProvenanceStore(self.tables)

    @cached_property
    def users(self) -> MemoryUserStore:
        return MemoryUserStore(self.tables)

    @cached_property
    def pipelines(self) -> MemoryPipelineStore:
        return MemoryPipelineStore(self.tables)

    @cached_property
    def cluster(self) -> MemoryClusterStore:
        return MemoryClusterStore()

    @cached_property
    def placements(self) -> MemoryPlacementStore:
        return MemoryPlacementStore()

    @cached_property
    def stagings(self) -> MemoryStagingStore:
        return MemoryStagingStore()

    @cached_property
    def s3_uploads(self) -> MemoryUploadStore:
        return MemoryUploadStore()

    def credentials(self, key: bytes) -> MemoryCredentialStore:
        return MemoryCredentialStore(self.tables)

    def health(self) -> BackendHealth:
        return BackendHealth(
            BackendRole.DATABASE, "memory://", True, "memory", "in this process: gone with it"
        )

    def close(self) -> None:
        """Nothing to release (the tables stay readable)."""
