"""MetadataDatabase: every metadata store of one database, opened (and migrated) once and
closed once. The composition root builds one per platform from the metadata URL and hands
each service the narrowest store it uses; backends: kaon.db (SQLite, PostgreSQL) and
kaon.memory (tests, `memory://`). kaon.testing holds the contract suites they all pass."""

from __future__ import annotations

from typing import Protocol

from kaon.core.backends import BackendHealth
from kaon.ports.cluster import ClusterStore
from kaon.ports.credentials import CredentialStore
from kaon.ports.endpoints import EndpointStore, ReleaseStore
from kaon.ports.jobs import JobStore
from kaon.ports.metadata import MetadataStore
from kaon.ports.notebooks import NotebookStore
from kaon.ports.pipelines import PipelineStore
from kaon.ports.placement import PlacementStore
from kaon.ports.provenance import ProvenanceStore
from kaon.ports.s3uploads import UploadStore
from kaon.ports.stagings import StagingStore
from kaon.ports.users import UserStore
from kaon.ports.workspaces import WorkspaceStore


class MetadataDatabase(Protocol):
    """The stores share the database's connections and see each other's writes at once
    (deleting a workspace deletes its jobs, endpoints, releases and roles, whichever store did it)."""

    @property
    def metadata(self) -> MetadataStore:
        """Repos, branches, commits, chunks and packs, upload leases."""
        ...

    @property
    def workspaces(self) -> WorkspaceStore: ...

    @property
    def jobs(self) -> JobStore: ...

    @property
    def endpoints(self) -> EndpointStore: ...

    @property
    def notebooks(self) -> NotebookStore:
        """JupyterLabs (kaon.core.notebooks)."""
        ...

    @property
    def releases(self) -> ReleaseStore:
        """Named endpoints and their traffic (their versions are `endpoints` rows)."""
        ...

    @property
    def provenance(self) -> ProvenanceStore: ...

    @property
    def users(self) -> UserStore: ...

    @property
    def pipelines(self) -> PipelineStore:
        """Pipelines, their versions, jobs and datum records (global: no workspace, and no
        link to repos, so deleting a repo or a workspace never reaches them)."""
        ...

    @property
    def cluster(self) -> ClusterStore:
        """The servers sharing this database and their claims on live work."""
        ...

    @property
    def placements(self) -> PlacementStore:
        """Where each endpoint version's replicas run and listen."""
        ...

    @property
    def stagings(self) -> StagingStore:
        """Files of coming commits, staged while their uploads go on."""
        ...

    @property
    def s3_uploads(self) -> UploadStore:
        """S3 multipart uploads and their parts (the parts' bytes: in the object store)."""
        ...

    def credentials(self, key: bytes) -> CredentialStore:
        """The S3 keys, their secrets sealed at rest with `key` (32 bytes, kept outside the
        database)."""
        ...

    def close(self) -> None:
        """Release the database's connections (the stores are unusable afterwards)."""
        ...

    def health(self) -> BackendHealth:
        """Whether the database answers now (its URL without secrets, its server's version). Never raises: a failure is
        ok=False with a one-line `detail` (what failed, what to do)."""
        ...
