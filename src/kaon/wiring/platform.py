"""The platform: its services (Platform) and the engines under them (Backends), started and
closed as one."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from kaon.core.backends import BackendHealth
from kaon.core.cluster import ClaimKind
from kaon.core.errors import BackendUnavailable
from kaon.ports.credentials import CredentialStore
from kaon.ports.database import MetadataDatabase
from kaon.ports.drop import DropFolder
from kaon.ports.executor import Executor
from kaon.ports.jobs import JobStore
from kaon.ports.metadata import MetadataStore
from kaon.ports.objectstore import ObjectStore
from kaon.ports.pipelines import PipelineStore
from kaon.ports.provenance import ProvenanceStore
from kaon.ports.replicas import Replicas
from kaon.ports.users import UserStore
from kaon.services.audit import AuditLog
from kaon.services.chunks import ChunkStore
from kaon.services.cluster import ClusterService
from kaon.services.commits import CommitService
from kaon.services.files import FileService
from kaon.services.gc import GarbageCollector
from kaon.services.ingest import FileIngest
from kaon.services.jobtokens import JobTokens
from kaon.services.lifecycle import UserLifecycle, WorkspaceLifecycle
from kaon.services.notebooks import NotebookService
from kaon.services.packs import PackIntake
from kaon.services.pipelines.inputaccess import InputAccess
from kaon.services.pipelines.service import PipelineService
from kaon.services.provenance import ProvenanceService
from kaon.services.repos import RepoService
from kaon.services.s3.access import S3Access
from kaon.services.s3.credentials import CredentialService
from kaon.services.s3.multipart import MultipartUploads
from kaon.services.s3.objects import ObjectService
from kaon.services.scratch import ScratchFolder
from kaon.services.serving import ServingService
from kaon.services.staging import StagingArea
from kaon.services.training import TrainingService
from kaon.services.users import UserService
from kaon.services.workspaces import WorkspaceService

log = logging.getLogger("kaon")


PIPELINES_KEY = "scheduler"  # the claim of the server running the pipelines' work


def log_recovered(keys: list[str]) -> None:
    for key in keys:
        log.warning("pipeline job %s was interrupted by a platform stop: running again", key)


@dataclass
class Backends:
    """What build() chose for each port. The platform owns and closes them; services reach
    them through their constructors only (tests read them to see what was stored)."""

    database: MetadataDatabase  # every store below is one of its (closed with it)
    meta: MetadataStore
    objects: ObjectStore
    jobs: JobStore
    provenance: ProvenanceStore
    credentials: CredentialStore
    users: UserStore
    drop: DropFolder  # packs left by clients on this machine (no HTTP copy)
    pipelines: PipelineStore
    executor: Executor
    replicas: Replicas

    def health(self) -> list[BackendHealth]:
        """Each engine's answer now (never raises: see BackendHealth)."""
        return [
            self.database.health(),
            self.objects.health(),
            self.executor.health(),
            self.replicas.health(),
        ]

    def close(self) -> None:
        self.database.close()


@dataclass
class Platform:
    """The services, wired by build(); `start()` once before serving, `close()` at the end."""

    repos: RepoService
    commits: CommitService
    staging: StagingArea  # puts sent while an upload goes on, committed later
    files: FileService
    chunks: ChunkStore
    packs: PackIntake  # packs sent whole, over HTTP or through the drop folder
    ingest: FileIngest  # big files of this machine, chunked by the server itself
    gc: GarbageCollector
    workspaces: WorkspaceService
    lifecycle: WorkspaceLifecycle  # create / kill a workspace across services
    user_lifecycle: UserLifecycle  # remove a user and the S3 keys acting for them
    training: TrainingService
    serving: ServingService
    pipelines: PipelineService
    pipeline_inputs: InputAccess  # who may read a pipeline's inputs (create, each job)
    provenance: ProvenanceService
    credentials: CredentialService
    s3: ObjectService  # the S3 gateway's objects over repos
    s3_access: S3Access  # whom an S3 key acts for, what it may reach
    s3_uploads: MultipartUploads
    s3_scratch: ScratchFolder  # bodies of S3 puts while they arrive
    users: UserService
    job_tokens: JobTokens  # jobs' API access (KAON_ENDPOINT, KAON_TOKEN)
    audit: AuditLog  # writes audited by the API and the S3 gateway, written in batches
    cluster: ClusterService  # this server among the others sharing the database
    notebooks: NotebookService  # JupyterLabs behind the gateway (kaon.services.notebooks)
    _backends: Backends = field(repr=False)
    _started: bool = field(default=False, init=False, repr=False)

    def health(self) -> list[BackendHealth]:
        """The database, object store, executor and replicas, each asked now."""
        return self._backends.health()

    def check_backends(self) -> None:
        """Raise BackendUnavailable naming every engine that does not answer (the server
        checks before it listens: nothing half-started)."""
        failed = [h for h in self.health() if not h.ok]
        if failed:
            raise BackendUnavailable(
                "; ".join(f"{h.role} {h.url} is unavailable: {h.detail}" for h in failed),
                backends=[h.role.value for h in failed],
            )

    def start(self) -> None:
        """Recover what a stop interrupted, then start the background work: jobs queued or
        interrupted, endpoints to bring back. Once, before serving (again: nothing)."""
        if self._started:
            return
        self._started = True
        self.cluster.start()
        for pack in self.chunks.recover():
            log.warning("pack %s was lost by a crash before any commit used it: unindexed", pack)
        self.s3_scratch.reset()  # bodies a stop interrupted
        self.packs.recover()  # packs a stop interrupted: no client is waiting for them any more
        for job in self.training.recover():
            log.warning("job %s was interrupted by a platform stop: marked JOB_FAILURE", job)
        for endpoint in self.serving.recover():
            log.info("endpoint %s restarting", endpoint)
        for notebook in self.notebooks.recover():
            log.info("notebook %s restarting", notebook)
        if self.cluster.claim(ClaimKind.PIPELINES, PIPELINES_KEY):  # this server leads
            log_recovered(self.pipelines.start_background())
        else:
            self.pipelines.standby()
        # a leader that stops leaves the pipelines to a live server
        self.cluster.want(ClaimKind.PIPELINES, PIPELINES_KEY, self._lead_pipelines)

    def _lead_pipelines(self, key: str) -> None:
        lost = self.cluster.lost(ClaimKind.PIPELINES, key)
        reason = f"recovered by server {self.cluster.url} after {lost} stopped"
        log_recovered(self.pipelines.start_background(reason))

    def close(self) -> None:
        """Stop the background work, then close the backends."""
        self.audit.close()  # what is queued is written before the stores close
        self.pipelines.shutdown()  # running jobs cancelled: they run again at the next start
        self.serving.shutdown()
        self.notebooks.shutdown()
        self.training.shutdown()
        self.cluster.close()
        self._backends.close()
