"""The composition root: the one place that names concrete backends, chosen by URL scheme."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

from kaon.config import ServerSettings, private_dir
from kaon.core.errors import InvalidInput
from kaon.db.credentials import SqlCredentialStore, sealing_key
from kaon.db.engine import parse_url
from kaon.db.jobs import SqlJobStore
from kaon.db.provenance import SqlProvenanceStore
from kaon.db.sql import SqlMetadataStore
from kaon.db.users import SqlUserStore
from kaon.exec.local import LocalExecutor
from kaon.exec.replicas import LocalReplicas
from kaon.exec.uv import UvEnvBuilder
from kaon.ports.content import Content
from kaon.ports.credentials import CredentialStore
from kaon.ports.envbuilder import EnvBuilder
from kaon.ports.executor import Executor
from kaon.ports.jobs import JobStore
from kaon.ports.metadata import MetadataStore
from kaon.ports.objectstore import ObjectStore
from kaon.ports.provenance import ProvenanceStore
from kaon.ports.replicas import Replicas
from kaon.ports.users import UserStore
from kaon.runtime.install import install_runtime
from kaon.services.audit import AuditLog
from kaon.services.chunks import MAX_PACK, ChunkStore
from kaon.services.commits import CommitService
from kaon.services.content import StoreContent
from kaon.services.endpointbuild import EndpointBuilder
from kaon.services.endpointrecord import EndpointRecorder
from kaon.services.endpointrun import EndpointRunner
from kaon.services.files import FileService
from kaon.services.gc import GarbageCollector
from kaon.services.ingest import FileIngest
from kaon.services.jobtokens import JobTokens
from kaon.services.leases import UploadLeases
from kaon.services.locks import SharedExclusiveLock
from kaon.services.provenance import ProvenanceService
from kaon.services.repos import RepoService
from kaon.services.s3access import S3Access
from kaon.services.s3keys import CredentialService
from kaon.services.s3multipart import MultipartUploads
from kaon.services.s3objects import ObjectService
from kaon.services.serving import ServingService
from kaon.services.staging import StagingArea
from kaon.services.training import TrainingService
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


OBJECT_STORES: dict[str, Callable[[str], ObjectStore]] = {
    "file": _local_store,
    "memory": _memory_store,
}

METADATA_STORES: dict[str, Callable[[str], MetadataStore]] = {
    "sqlite": SqlMetadataStore,
    "postgresql": SqlMetadataStore,
    "postgresql+psycopg": SqlMetadataStore,
}


JOB_STORES: dict[str, Callable[[str], JobStore]] = {
    "sqlite": SqlJobStore,
    "postgresql": SqlJobStore,
    "postgresql+psycopg": SqlJobStore,
}

PROVENANCE_STORES: dict[str, Callable[[str], ProvenanceStore]] = {
    "sqlite": SqlProvenanceStore,
    "postgresql": SqlProvenanceStore,
    "postgresql+psycopg": SqlProvenanceStore,
}

USER_STORES: dict[str, Callable[[str], UserStore]] = {
    "sqlite": SqlUserStore,
    "postgresql": SqlUserStore,
    "postgresql+psycopg": SqlUserStore,
}

CREDENTIAL_STORES: dict[str, Callable[[str], Callable[[bytes], CredentialStore]]] = {
    scheme: lambda url: functools.partial(SqlCredentialStore, url)
    for scheme in ("sqlite", "postgresql", "postgresql+psycopg")
}

EXECUTORS: dict[str, Callable[[ServerSettings], Executor]] = {
    "local": lambda settings: LocalExecutor(),
}

REPLICAS: dict[str, Callable[[ServerSettings], Callable[[Content], Replicas]]] = {
    "local": lambda settings: functools.partial(LocalReplicas, settings.home / "serving"),
}

ENV_BUILDERS: dict[str, Callable[[ServerSettings], EnvBuilder]] = {
    "uv": lambda settings: UvEnvBuilder(settings.home / "envs", hidden=platform_paths(settings)),
}


def _named(
    registry: dict[str, Callable[[ServerSettings], T]],
    name: str,
    what: str,
    settings: ServerSettings,
) -> T:
    factory = registry.get(name)
    if factory is None:
        known = ", ".join(sorted(registry))
        raise InvalidInput(f"unsupported {what} {name!r}: use one of {known}")
    return factory(settings)


def _pick(registry: dict[str, Callable[[str], T]], url: str, what: str) -> T:
    scheme = urlparse(url).scheme
    factory = registry.get(scheme)
    if factory is None:
        known = ", ".join(sorted(registry))
        raise InvalidInput(f"unsupported {what} URL {url!r}: use one of the schemes {known}")
    return factory(url)


def platform_paths(settings: ServerSettings) -> tuple[Path, ...]:
    """The local folders the platform owns, hidden from user code: its home (token, keys,
    uploads), the object store and the SQLite database's folder (the database, its -wal and
    -shm files) wherever they live. The root is never one of them (it cannot be hidden)."""
    paths = [settings.home]
    store = urlparse(settings.store_url)
    if store.scheme == "file" and store.path:
        paths.append(Path(store.path))
    meta = parse_url(settings.metadata_url)
    if meta.get_backend_name() == "sqlite" and meta.database not in (None, "", ":memory:"):
        paths.append(Path(meta.database).expanduser().absolute().parent)
    found = [p.absolute() for p in paths if p.absolute() != Path("/")]
    return tuple(p for p in dict.fromkeys(found) if not any(q in p.parents for q in found))


@dataclass
class Platform:
    meta: MetadataStore
    objects: ObjectStore
    repos: RepoService
    commits: CommitService
    staging: StagingArea  # puts sent while an upload goes on, committed later
    files: FileService
    chunks: ChunkStore
    drop: PackDrop  # packs left by clients on this machine (no HTTP copy)
    ingest: FileIngest  # big files of this machine, chunked by the server itself
    gc: GarbageCollector
    jobs: JobStore
    workspaces: WorkspaceService
    training: TrainingService
    serving: ServingService
    provenance_store: ProvenanceStore
    provenance: ProvenanceService
    credentials: CredentialService
    credential_store: CredentialStore
    s3: ObjectService  # the S3 gateway's objects over repos
    s3_access: S3Access  # whom an S3 key acts for, what it may reach
    s3_uploads: MultipartUploads
    s3_scratch: Path  # bodies of S3 puts while they arrive
    users: UserService
    user_store: UserStore
    job_tokens: JobTokens  # jobs' API access (KAON_ENDPOINT, KAON_TOKEN)
    audit: AuditLog  # writes audited by the API and the S3 gateway, written in batches

    def close(self) -> None:
        self.audit.close()  # what is queued is written before the stores close
        self.serving.shutdown()
        self.training.shutdown()
        self.user_store.close()
        self.credential_store.close()
        self.provenance_store.close()
        self.jobs.close()
        self.meta.close()


def build(settings: ServerSettings, clock: Callable[[], float] = time.time) -> Platform:
    private_dir(settings.home)  # 0700, also an existing home left open by an older kaon
    objects = _pick(OBJECT_STORES, settings.store_url, "object store")
    meta = _pick(METADATA_STORES, settings.metadata_url, "metadata database")
    gc_lock = SharedExclusiveLock()
    trees = TreeStore(objects)
    repos = RepoService(meta, clock)
    leases = UploadLeases(meta, clock, settings.upload_lease_seconds)
    chunks = ChunkStore(objects, meta, gc_lock, clock, leases)
    for pack in chunks.recover():
        log.warning("pack %s was lost by a crash before any commit used it: unindexed", pack)
    commits = CommitService(meta, repos, trees, gc_lock, clock)
    files = FileService(repos, trees, chunks)
    jobs = _pick(JOB_STORES, settings.metadata_url, "metadata database")
    workspaces = WorkspaceService(jobs, repos, trees, files, clock)
    envs = _named(ENV_BUILDERS, settings.env_builder, "environment builder", settings)
    provenance_store = _pick(PROVENANCE_STORES, settings.metadata_url, "metadata database")
    provenance = ProvenanceService(provenance_store)
    sealing = sealing_key(settings.home / "secret.key")  # S3 secrets at rest: never in jobs' view
    credential_store = _pick(CREDENTIAL_STORES, settings.metadata_url, "metadata database")(sealing)
    user_store = _pick(USER_STORES, settings.metadata_url, "metadata database")
    users = UserService(user_store, clock)
    credentials = CredentialService(
        credential_store, clock, is_user=lambda name: user_store.get_user(name) is not None
    )
    job_tokens = JobTokens(users)
    s3_scratch = settings.home / "s3" / "tmp"
    shutil.rmtree(s3_scratch, ignore_errors=True)  # bodies a stop interrupted
    s3_scratch.mkdir(parents=True)
    s3 = ObjectService(repos, commits, files, chunks, jobs, provenance, clock)
    s3_uploads = MultipartUploads(
        settings.home / "s3" / "uploads",
        clock,
        expiry=settings.s3_upload_expiry_days * 86400.0,
        bucket_exists=s3.bucket_exists,
    )
    drop = PackDrop(settings.home / "incoming", MAX_PACK)
    drop.clean_temp(0.0)  # packs a stop interrupted: no client is waiting for them any more
    hidden = platform_paths(settings)  # what user code must not see
    training = TrainingService(
        jobs,
        workspaces,
        repos,
        commits,
        files,
        chunks,
        envs,
        _named(EXECUTORS, settings.executor, "executor", settings),
        settings.home / "jobs",
        clock,
        slots=settings.max_parallel or os.cpu_count() or 1,
        provenance=provenance,
        runtime=install_runtime(settings.home / "runtime"),
        keys=credentials,
        hidden=hidden,
        default_memory=settings.job_memory,
        tokens=job_tokens,
    )
    replicas = _named(REPLICAS, settings.executor, "executor", settings)
    serving = ServingService(
        jobs,
        workspaces,
        EndpointBuilder(repos, files, envs, training),
        EndpointRecorder(repos, commits, chunks, provenance, settings.home / "endpoints"),
        EndpointRunner(replicas(StoreContent(repos, files)), hidden),
        clock,
    )
    platform = Platform(
        meta=meta,
        objects=objects,
        repos=repos,
        commits=commits,
        staging=StagingArea(repos, clock),
        files=files,
        chunks=chunks,
        drop=drop,
        ingest=FileIngest(chunks),
        gc=GarbageCollector(
            meta, objects, trees, gc_lock, clock, leases, scratch=[drop, s3_uploads]
        ),
        jobs=jobs,
        workspaces=workspaces,
        training=training,
        serving=serving,
        provenance_store=provenance_store,
        provenance=provenance,
        credentials=credentials,
        credential_store=credential_store,
        s3=s3,
        s3_access=S3Access(users, workspaces),
        s3_uploads=s3_uploads,
        s3_scratch=s3_scratch,
        users=users,
        user_store=user_store,
        job_tokens=job_tokens,
        audit=AuditLog(user_store, clock),
    )
    for job in training.recover():
        log.warning("job %s was interrupted by a platform stop: marked JOB_FAILURE", job)
    for endpoint in serving.recover():
        log.info("endpoint %s restarting", endpoint)
    return platform
