"""The composition root: the one place that names concrete backends, chosen by URL scheme."""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

from kaon.config import ServerSettings, private_dir, private_file
from kaon.core.backends import BackendHealth, redact_url
from kaon.core.cluster import ClaimKind
from kaon.core.errors import BackendUnavailable, InvalidInput
from kaon.core.notebooks import LIVE as NOTEBOOK_LIVE
from kaon.core.notebooks import Notebook
from kaon.core.pipelines.records import PipelineJob, PipelineVersion
from kaon.db.credentials import sealing_key
from kaon.db.database import Database
from kaon.db.engine import parse_url
from kaon.exec.local import LocalExecutor
from kaon.exec.notebooks import LocalNotebooks
from kaon.exec.replicas import LocalReplicas
from kaon.exec.uv import UvEnvBuilder
from kaon.memory.database import MemoryDatabase
from kaon.ports.content import Content
from kaon.ports.credentials import CredentialStore
from kaon.ports.database import MetadataDatabase
from kaon.ports.drop import DropFolder
from kaon.ports.envbuilder import EnvBuilder
from kaon.ports.executor import Executor
from kaon.ports.jobs import JobStore
from kaon.ports.metadata import MetadataStore
from kaon.ports.objectstore import ObjectStore
from kaon.ports.pipelines import PipelineStore
from kaon.ports.provenance import ProvenanceStore
from kaon.ports.replicas import Replicas
from kaon.ports.users import UserStore
from kaon.runtime.install import install_runtime
from kaon.services.audit import AuditLog
from kaon.services.chunks import MAX_PACK, ChunkStore
from kaon.services.cluster import ClusterService
from kaon.services.commits import CommitService
from kaon.services.content import StoreContent
from kaon.services.endpointbuild import EndpointBuilder
from kaon.services.endpointrecord import EndpointRecorder
from kaon.services.endpointrun import EndpointRunner
from kaon.services.files import FileService
from kaon.services.gc import GarbageCollector
from kaon.services.ingest import FileIngest
from kaon.services.jobaccess import JobAccess
from kaon.services.jobbuild import JobBuilder
from kaon.services.joboutputs import JobOutputs
from kaon.services.jobrecord import JobRecorder
from kaon.services.jobrun import TrialRunner
from kaon.services.jobtokens import JobTokens
from kaon.services.leases import UploadLeases
from kaon.services.lifecycle import UserLifecycle, WorkspaceLifecycle
from kaon.services.locks import SharedExclusiveLock
from kaon.services.notebooks import NotebookService
from kaon.services.notebooksite import NotebookSite
from kaon.services.packs import PackIntake
from kaon.services.pipelines.cron import CronTicker, cron_inputs
from kaon.services.pipelines.inputaccess import InputAccess
from kaon.services.pipelines.jobrunner import PipelineJobRunner, gpu_count
from kaon.services.pipelines.leader import PipelineLeader
from kaon.services.pipelines.logs import PipelineLogs
from kaon.services.pipelines.provenance import PipelineProvenance
from kaon.services.pipelines.s3access import PipelineAccess
from kaon.services.pipelines.scheduler import Scheduler
from kaon.services.pipelines.service import PipelineService
from kaon.services.pipelines.servicerun import ServiceRunner
from kaon.services.pipelines.spouts import SpoutRunner
from kaon.services.pipelines.triggers import Triggers
from kaon.services.pipelines.versions import Versions
from kaon.services.pipelines.waits import JobWatch, Waits, WatchedStore
from kaon.services.provenance import ProvenanceService
from kaon.services.repos import RepoService
from kaon.services.s3.access import S3Access
from kaon.services.s3.credentials import CredentialService
from kaon.services.s3.multipart import MultipartUploads
from kaon.services.s3.objects import ObjectService
from kaon.services.s3.transactions import S3Transactions
from kaon.services.scratch import ScratchFolder
from kaon.services.serving import ServingService
from kaon.services.staging import StagingArea
from kaon.services.training import JobSteps, TrainingService
from kaon.services.trees import TreeStore
from kaon.services.users import UserService
from kaon.services.workspaces import WorkspaceService
from kaon.store.drop import PackDrop
from kaon.store.local import LocalObjectStore
from kaon.store.memory import MemoryObjectStore

T = TypeVar("T")
log = logging.getLogger("kaon")


def _local_store(url: str) -> ObjectStore:
    return LocalObjectStore(Path(urlparse(url).path))


def _memory_store(url: str) -> ObjectStore:
    return MemoryObjectStore()


def _s3_store(url: str) -> ObjectStore:
    from kaon.store.s3 import S3ObjectStore  # boto3: imported only by platforms on S3

    return S3ObjectStore.from_url(url)


OBJECT_STORES: dict[str, Callable[[str], ObjectStore]] = {
    "file": _local_store,
    "memory": _memory_store,
    "s3": _s3_store,
}

DATABASES: dict[str, Callable[[str], MetadataDatabase]] = {
    "sqlite": Database,
    "postgresql": Database,
    "postgresql+psycopg": Database,
    "memory": lambda url: MemoryDatabase(),
}
"""Metadata databases by URL scheme: one per platform, every metadata store built over it."""


def open_object_store(url: str) -> ObjectStore:
    """The object store of `url` (picklable by reference: a Ray worker opens the store with
    it, see kaon.exec.ray.worker.NodeSpec)."""
    return _pick(OBJECT_STORES, url, "object store")


def _ray_executor(settings: ServerSettings, content: StoreContent) -> Executor:
    from kaon.exec.ray.executor import RayExecutor
    from kaon.exec.ray.worker import NodeSpec

    node = NodeSpec(
        root=settings.ray_workdir,  # node-local folders (KAON_RAY_WORKDIR, KAON_RAY_ENVS)
        env_root=settings.ray_envs,
        open_store=functools.partial(open_object_store, settings.store_url),
        hidden=tuple(str(p) for p in platform_paths(settings)),
    )
    return RayExecutor(settings.executor, content, node, settings.home / "jobs" / ".ray")


# an executor runs tasks it fetches the inputs of (Content) in environments (EnvBuilder)
EXECUTORS: dict[str, Callable[[ServerSettings], Callable[[StoreContent, EnvBuilder], Executor]]] = {
    "local": lambda settings: (
        lambda content, envs: LocalExecutor(
            content,
            settings.home / "jobs",
            envs,
            runtime=install_runtime(settings.home / "runtime"),
            hidden=platform_paths(settings),
        )
    ),
    # ray://host:port (Ray Client) or ray (this machine's cluster): tasks run on Ray workers,
    # which read their inputs from the object store and build environments on their node
    "ray": lambda settings: lambda content, envs: _ray_executor(settings, content),
}


def _ray_replicas(settings: ServerSettings) -> Callable[[Content], Replicas]:
    """Replicas as Ray actors on the cluster of KAON_EXECUTOR (kaon.exec.ray.replicas)."""
    from kaon.exec.ray.replicas import RayReplicas

    return lambda content: RayReplicas(
        settings.executor, content, settings.home / "serving" / ".ray"
    )


REPLICAS: dict[str, Callable[[ServerSettings], Callable[[Content], Replicas]]] = {
    "local": lambda settings: functools.partial(LocalReplicas, settings.home / "serving"),
    "ray": _ray_replicas,  # ray://host:port or ray: each replica a Ray actor
}

ENV_BUILDERS: dict[str, Callable[[ServerSettings], EnvBuilder]] = {
    "uv": lambda settings: UvEnvBuilder(settings.home / "envs", hidden=platform_paths(settings)),
}


def _named(
    registry: dict[str, Callable[[ServerSettings], T]],
    name: str,
    what: str,
    settings: ServerSettings,
    origin: str = "",
) -> T:
    factory = registry.get(name)
    if factory is None:
        known = ", ".join(sorted(registry))
        raise InvalidInput(f"unsupported {what} {name!r}{_from(origin)}: use one of {known}")
    return factory(settings)


def _pick(registry: dict[str, Callable[[str], T]], url: str, what: str, origin: str = "") -> T:
    scheme = urlparse(url).scheme
    factory = registry.get(scheme)
    if factory is None:
        known = ", ".join(sorted(registry))
        raise InvalidInput(
            f"unsupported {what} URL {redact_url(url)!r}{_from(origin)}: use one of the "
            f"schemes {known}"
        )
    return factory(url)


def _from(origin: str) -> str:
    return f" (from {origin})" if origin and origin != "default" else ""


def platform_paths(settings: ServerSettings) -> tuple[Path, ...]:
    """The local folders the platform owns, hidden from user code: its home (token, keys,
    uploads), the object store and the SQLite database's folder (the database, its -wal and
    -shm files) wherever they live. The root is never one of them (it cannot be hidden)."""
    paths = [settings.home]
    store = urlparse(settings.store_url)
    if store.scheme == "file" and store.path:
        paths.append(Path(store.path))
    if urlparse(settings.metadata_url).scheme != "memory":
        meta = parse_url(settings.metadata_url)
        if meta.get_backend_name() == "sqlite" and meta.database not in (None, "", ":memory:"):
            paths.append(Path(meta.database).expanduser().absolute().parent)
    found = [p.absolute() for p in paths if p.absolute() != Path("/")]
    return tuple(p for p in dict.fromkeys(found) if not any(q in p.parents for q in found))


def server_id(home: Path) -> str:
    """This server's id in the cluster, kept in $KAON_HOME/server-id: a server restarted on
    the same home is the same member (what it held before a crash is its own to recover)."""
    path = home / "server-id"
    try:
        known = path.read_text().strip()
    except FileNotFoundError:
        known = ""
    if len(known) == 32:
        return known
    fresh = uuid.uuid4().hex
    private_file(path, fresh)
    return fresh


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


def build(settings: ServerSettings, clock: Callable[[], float] = time.time) -> Platform:
    """The platform for `settings`: backends chosen by URL scheme, services wired to them.
    Nothing runs yet: `Platform.start()` recovers and starts the background work."""
    return wire(settings, clock)[0]


def wire(
    settings: ServerSettings, clock: Callable[[], float] = time.time
) -> tuple[Platform, Backends]:
    """build(), and the backends it chose (for tests that look at what was stored)."""
    private_dir(settings.home)  # 0700, also an existing home left open by an older kaon
    objects = _pick(OBJECT_STORES, settings.store_url, "object store", settings.origin("store"))
    database = _pick(
        DATABASES, settings.metadata_url, "metadata database", settings.origin("database")
    )
    meta = database.metadata
    gc_lock = SharedExclusiveLock()
    cluster = ClusterService(
        database.cluster,
        settings.advertise_url or f"http://{settings.host}:{settings.port}",
        heartbeat=settings.heartbeat_seconds,
        ttl=settings.claim_seconds,
        server_id=server_id(settings.home),
    )
    trees = TreeStore(objects)
    repos = RepoService(meta, clock)
    leases = UploadLeases(meta, clock, settings.upload_lease_seconds)
    chunks = ChunkStore(objects, meta, gc_lock, clock, leases)
    commits = CommitService(meta, repos, trees, gc_lock, clock)
    files = FileService(repos, trees, chunks)
    jobs = database.jobs
    workspaces = WorkspaceService(database.workspaces, repos, trees, files, clock)
    envs = _named(ENV_BUILDERS, settings.env_builder, "environment builder", settings)
    provenance_store = database.provenance
    provenance = ProvenanceService(provenance_store)
    sealing = sealing_key(settings.home / "secret.key")  # S3 secrets at rest: never in jobs' view
    credential_store = database.credentials(sealing)
    user_store = database.users
    users = UserService(user_store, clock)
    credentials = CredentialService(
        credential_store, clock, is_user=lambda name: user_store.get_user(name) is not None
    )
    job_tokens = JobTokens(users)
    s3 = ObjectService(
        repos,
        commits,
        files,
        chunks,
        database.workspaces,
        database.jobs,
        provenance,
        clock,
        S3Transactions(database.stagings, clock),
    )
    s3_scratch = ScratchFolder(settings.home / "s3" / "tmp")
    s3_uploads = MultipartUploads(
        database.s3_uploads,
        objects,
        s3_scratch,
        clock,
        expiry=settings.s3_upload_expiry_days * 86400.0,
        bucket_exists=s3.bucket_exists,
    )
    drop = PackDrop(settings.home / "incoming", MAX_PACK)
    ingest = FileIngest(chunks)
    hidden = platform_paths(settings)  # what user code must not see
    content = StoreContent(repos, files, meta)  # what executors and replicas fetch inputs by
    executor = _named(
        EXECUTORS, settings.executor_kind, "executor", settings, settings.origin("executor")
    )(content, envs)
    outputs = JobOutputs(chunks, commits, repos, files, settings.home / "jobs")
    recorder = JobRecorder(jobs, provenance, clock)
    slots = settings.max_parallel or os.cpu_count() or 1
    steps = JobSteps(
        builder=JobBuilder(workspaces, repos, files, commits, envs, executor),
        runner=TrialRunner(executor, recorder, outputs, slots, settings.job_memory),
        recorder=recorder,
        outputs=outputs,
    )
    training = TrainingService(
        jobs, workspaces, steps, JobAccess(credentials, job_tokens), clock, cluster
    )
    cluster.on_orphan(ClaimKind.JOB, training.take_over)  # a dead server's jobs end honestly
    replicas_from = "KAON_REPLICAS" if settings.replicas else settings.origin("executor")
    replicas = _named(
        REPLICAS, settings.replicas_kind, "replicas backend", settings, replicas_from
    )(content)
    serving = ServingService(
        database.endpoints,
        database.releases,
        workspaces,
        EndpointBuilder(repos, files, envs, training),
        EndpointRecorder(repos, commits, chunks, provenance, settings.home / "endpoints", files),
        EndpointRunner(replicas, hidden),
        clock,
        cluster,
        database.placements,
    )
    pipeline_access = PipelineAccess(  # S3 keys (reads recorded) and API tokens per job
        credentials, is_user=lambda name: user_store.get_user(name) is not None, tokens=job_tokens
    )
    s3.on_job_access(pipeline_access.recorded)
    pipeline_inputs = InputAccess(users, workspaces.owner_of_repo)
    pipelines = _pipelines(
        settings,
        database,
        (repos, commits, files, chunks, trees),
        envs,
        executor,
        job_tokens,
        clock,
        pipeline_access,
        cluster,
        objects,
        pipeline_inputs,
    )

    backends = Backends(
        database,
        meta,
        objects,
        jobs,
        provenance_store,
        credential_store,
        user_store,
        drop,
        database.pipelines,
        executor,
        replicas,
    )
    notebooks = NotebookService(
        database.notebooks,
        workspaces,
        commits,
        ingest,
        NotebookSite(
            repos,
            files,
            envs,
            content,
            job_tokens,
            credentials,
            settings.home / "notebooks",
            hidden,
        ),
        LocalNotebooks(install_runtime(settings.home / "runtime")),
        clock,
        lambda name: serving.lookup(name) is not None,
        provenance,
        sealing,  # the gate's cookies are signed with a key derived from it
    )
    serving.is_notebook = lambda name: _live_notebook(database.notebooks.get_notebook(name))
    s3.on_job_access(notebooks.recorded)  # what a notebook's key reads: its provenance
    platform = Platform(
        repos=repos,
        commits=commits,
        staging=StagingArea(repos, clock, database.stagings),
        files=files,
        chunks=chunks,
        packs=PackIntake(drop, chunks, ingest),
        ingest=ingest,
        gc=GarbageCollector(
            meta,
            objects,
            trees,
            gc_lock,
            clock,
            leases,
            scratch=[drop, s3_uploads],
            roots=database.pipelines.reusable_outputs,
            cluster=cluster,
        ),
        workspaces=workspaces,
        lifecycle=WorkspaceLifecycle(workspaces, users, training, serving, notebooks),
        user_lifecycle=UserLifecycle(users, credentials),
        training=training,
        serving=serving,
        pipelines=pipelines,
        pipeline_inputs=pipeline_inputs,
        provenance=provenance,
        credentials=credentials,
        s3=s3,
        s3_access=S3Access(users, workspaces),
        s3_uploads=s3_uploads,
        s3_scratch=s3_scratch,
        users=users,
        job_tokens=job_tokens,
        audit=AuditLog(user_store, clock),
        cluster=cluster,
        notebooks=notebooks,
        _backends=backends,
    )
    cluster.watch(platform.gc.watch)  # another server's gc: this one holds its writes
    return platform, backends


def _pipelines(
    settings: ServerSettings,
    database: MetadataDatabase,
    data: tuple[RepoService, CommitService, FileService, ChunkStore, TreeStore],
    envs: EnvBuilder,
    executor: Executor,
    job_tokens: JobTokens,
    clock: Callable[[], float],
    access: PipelineAccess,
    cluster: ClusterService,
    objects: ObjectStore,
    inputs: InputAccess,
) -> PipelineService:
    """The pipelines' services over one store whose job changes wake `wait commit`, told of
    every commit (their triggers); their logs kept in the object store every server shares."""
    repos, commits, files, chunks, trees = data
    watch = JobWatch()
    store = WatchedStore(database.pipelines, watch)
    root = settings.home / "pipelines"
    slots = settings.max_parallel or os.cpu_count() or 1  # as many jobs at once as trials
    versions = Versions(store, repos, files, envs, clock)
    logs = PipelineLogs(root / "logs", kept=objects)  # kept: another server reads them
    runner = PipelineJobRunner(
        store,
        executor,
        repos,
        commits,
        trees,
        chunks,
        logs,
        clock=clock,
        slots=slots,
        gpus=getattr(executor, "cluster_gpus", gpu_count),  # on Ray: the largest node's
        access=access,
        refused=inputs.refused,
    )

    def run_job(job: PipelineJob, version: PipelineVersion, cancel: threading.Event) -> PipelineJob:
        try:
            return runner.run(job, version, cancel)
        finally:
            access.revoke(job)  # its S3 key, however it ended

    services = ServiceRunner(
        store,
        executor,
        logs.job_log,
        clock=clock,
        endpoint=lambda: job_tokens.endpoint,
        access=access,
    )
    spouts = SpoutRunner(
        store, executor, chunks, commits, root / "spouts", logs.job_log, clock=clock, access=access
    )
    recorder = PipelineProvenance(database.provenance, repos)
    scheduler = Scheduler(
        store,
        repos,
        versions.spec_of,
        run_job,
        slots,
        clock,
        lambda job, version: recorder.job_succeeded(job, version, access.take_reads(job)),
        services=services,
        spouts=spouts,
    )
    cron = CronTicker(
        store, commits, files, lambda name: cron_inputs(versions.spec_of(name).input), clock
    )
    triggers = Triggers(store, repos, versions.spec_of, scheduler.enqueue, clock)
    waits = Waits(store, repos, watch, clock)
    commits.on_commit(triggers.committed)  # jobs recorded before the commit call returns
    commits.on_commit(lambda commit: watch.changed())
    leader = PipelineLeader(
        store, scheduler, cron, lambda: not cluster.taken(ClaimKind.PIPELINES, PIPELINES_KEY)
    )
    return PipelineService(
        store, repos, versions, triggers, scheduler, cron, executor, logs, waits, leader
    )


def _live_notebook(notebook: Notebook | None) -> bool:
    """A BUILDING or RUNNING notebook holds its name: the gateway routes /<name>/ to it."""
    return notebook is not None and notebook.state in NOTEBOOK_LIVE
