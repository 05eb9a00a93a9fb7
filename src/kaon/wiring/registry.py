"""Backends by URL scheme (object stores, databases) or name (executors, replicas, env
builders): the registries the composition root picks from, and the platform's own folders."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

from kaon.config import ServerSettings, private_file
from kaon.core.backends import redact_url
from kaon.core.errors import InvalidInput
from kaon.db.database import Database
from kaon.db.engine import parse_url
from kaon.exec.local import LocalExecutor
from kaon.exec.replicas import LocalReplicas
from kaon.exec.uv import UvEnvBuilder
from kaon.memory.database import MemoryDatabase
from kaon.ports.content import Content
from kaon.ports.database import MetadataDatabase
from kaon.ports.envbuilder import EnvBuilder
from kaon.ports.executor import Executor
from kaon.ports.objectstore import ObjectStore
from kaon.ports.replicas import Replicas
from kaon.runtime.install import install_runtime
from kaon.services.content import StoreContent
from kaon.store.local import LocalObjectStore
from kaon.store.memory import MemoryObjectStore

T = TypeVar("T")


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
    return pick(OBJECT_STORES, url, "object store")


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
    "uv": lambda settings: UvEnvBuilder(settings.envs, hidden=platform_paths(settings)),
}


def named(
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


def pick(registry: dict[str, Callable[[str], T]], url: str, what: str, origin: str = "") -> T:
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
    uploads), the environments' folder (KAON_ENV_DIR: a task sees only its own environment),
    the object store and the SQLite database's folder (the database, its -wal and -shm files)
    wherever they live. The root is never one of them (it cannot be hidden)."""
    paths = [settings.home, settings.envs]
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
