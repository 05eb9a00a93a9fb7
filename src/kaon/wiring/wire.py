"""build() and wire(): every service constructed over the backends the settings name."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from kaon.config import ServerSettings, private_dir
from kaon.core.cluster import ClaimKind
from kaon.core.notebooks import LIVE as NOTEBOOK_LIVE
from kaon.core.notebooks import Notebook
from kaon.core.pipelines.records import PipelineJob, PipelineVersion
from kaon.db.credentials import sealing_key
from kaon.exec.notebooks import LocalNotebooks
from kaon.ports.database import MetadataDatabase
from kaon.ports.envbuilder import EnvBuilder
from kaon.ports.executor import Executor
from kaon.ports.objectstore import ObjectStore
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
from kaon.services.notebookplaces import NotebookPlaces
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
from kaon.wiring.platform import PIPELINES_KEY, Backends, Platform
from kaon.wiring.registry import (
    DATABASES,
    ENV_BUILDERS,
    EXECUTORS,
    OBJECT_STORES,
    REPLICAS,
    named,
    pick,
    platform_paths,
    server_id,
)

log = logging.getLogger("kaon")


def build(settings: ServerSettings, clock: Callable[[], float] = time.time) -> Platform:
    """The platform for `settings`: backends chosen by URL scheme, services wired to them.
    Nothing runs yet: `Platform.start()` recovers and starts the background work."""
    return wire(settings, clock)[0]


def wire(
    settings: ServerSettings, clock: Callable[[], float] = time.time
) -> tuple[Platform, Backends]:
    """build(), and the backends it chose (for tests that look at what was stored)."""
    private_dir(settings.home)  # 0700, also an existing home left open by an older kaon
    objects = pick(OBJECT_STORES, settings.store_url, "object store", settings.origin("store"))
    database = pick(
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
    envs = named(ENV_BUILDERS, settings.env_builder, "environment builder", settings)
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
    executor = named(
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
    replicas = named(REPLICAS, settings.replicas_kind, "replicas backend", settings, replicas_from)(
        content
    )
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
        NotebookPlaces(cluster),  # several servers: the one that starts a notebook runs it
    )
    cluster.watch(notebooks.follow)  # stopped through another server: stopped here
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
    recorder = PipelineProvenance(database.provenance, repos)
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
        on_success=lambda job, version: recorder.job_succeeded(
            job, version, access.take_reads(job)
        ),
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
    scheduler = Scheduler(
        store,
        repos,
        versions.spec_of,
        run_job,
        slots,
        clock,
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
