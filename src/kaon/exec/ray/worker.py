"""What runs on a Ray node for kaon: trees fetched by content from the object store, uv
environments built on the node, the local executor's way of running a task — needing nothing
from the server's disk, only the object store's URL and kaon installed (the same version).

The small API the Ray executor (kaon.exec.ray.remote) and Ray replicas use:

* `NodeSpec`: picklable settings of the node side (its folders, how to open the object store);
  `node(spec)` → the `Node` of this worker process for them (made once, then reused);
* `Node.fetch(manifest, dest)`: write a tree (its `Manifest`, resolved by the server)
  into `dest`; `Node.content(manifests, kept)` the same as the Content port for one task
  (a `kept` tree is fetched once per node into `<root>/.trees/` and copied from there);
* `Node.environment(lock, log, cancel)`: the uv environment of a lock on this node, built
  the first time (cached under `NodeSpec.env_root`, one builder at a time across processes);
* `Node.executor`: a LocalExecutor over these, with tasks' folders below `NodeSpec.root`.

A node's fetched trees are kept while tasks use them and removed once unused for
`KEEP_SECONDS` (checked at each fetch): a kept tree is a commit, so a cached copy is never
stale.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import blake3

from kaon.core.errors import NotFound
from kaon.core.pack import decode_chunk
from kaon.exec.inputs import read_only, remove_tree
from kaon.exec.local import LocalExecutor
from kaon.exec.uv import UvEnvBuilder
from kaon.ports.content import Manifest, StoredRange, TreeRef
from kaon.ports.envbuilder import Environment, EnvLock, LogSink
from kaon.ports.objectstore import ObjectStore
from kaon.runtime.install import install_runtime

KEEP_SECONDS = 600.0  # a node's cached tree unused this long is removed
_GAP = 64 * 1024  # chunks this close in one object are read with one range read
_RUN = 8 * 1024 * 1024  # at most this many bytes per range read


@dataclass(frozen=True)
class NodeSpec:
    """The node side's settings, sent with every task (picklable)."""

    root: str  # node-local folder: tasks' folders, cached trees, the runtime
    env_root: str  # node-local folder of uv environments (UvEnvBuilder's root)
    open_store: Callable[[], ObjectStore]  # a module-level function or partial (pickled)
    hidden: tuple[str, ...] = ()  # folders user code must not see (where they exist here)
    pfs_mode: str | None = None  # KAON_PFS_MODE for the node (None: its own)


class Node:
    """One worker process' view of its node (see the module doc)."""

    def __init__(self, spec: NodeSpec) -> None:
        self.spec = spec
        self.root = Path(spec.root)
        self.store = spec.open_store()
        self.envs = UvEnvBuilder(Path(spec.env_root), hidden=self._hidden())
        self.trees = self.root / ".trees"
        self._content = _TaskContent(self)
        self.executor = LocalExecutor(
            self._content,
            self.root,
            self.envs,
            runtime=install_runtime(self.root / ".runtime"),
            hidden=self._hidden(),
            pfs_mode=spec.pfs_mode,
        )

    def _hidden(self) -> tuple[Path, ...]:
        return tuple(Path(p) for p in self.spec.hidden if Path(p).exists())

    def environment(self, lock: EnvLock, log: LogSink, cancel: threading.Event) -> Environment:
        return self.envs.ensure(lock, log, cancel)

    @contextlib.contextmanager
    def content(
        self, manifests: Mapping[TreeRef, Manifest], kept: frozenset[TreeRef] = frozenset()
    ) -> Iterator[Callable[[Mapping[TreeRef, Manifest]], None]]:
        """While open, `executor` fetches the trees of `manifests` (`kept` ones through the
        node's cache); what it yields adds more (a batch's datums)."""
        self._content.manifests, self._content.kept = dict(manifests), kept
        try:
            yield self._content.manifests.update
        finally:
            self._content.manifests, self._content.kept = {}, frozenset()

    def fetch(self, manifest: Manifest, dest: Path, cached: bool = False) -> int:
        """Write the files of `manifest` into `dest` (created); `cached`: copied from the
        node's copy of the tree, fetched first if this node has none."""
        if not cached:
            return fetch_tree(manifest, self.store, dest)
        with self._cached(manifest) as source:
            shutil.copytree(source, dest, copy_function=shutil.copyfile, dirs_exist_ok=True)
        for folder in [dest, *(p for p in dest.rglob("*") if p.is_dir())]:
            folder.chmod(0o755)
        for path in dest.rglob("*"):
            if path.is_file():
                path.chmod(0o644)
        return manifest.size

    @contextlib.contextmanager
    def _cached(self, manifest: Manifest) -> Iterator[Path]:
        """The node's read-only copy of the tree (shared lock held while in use)."""
        self.trees.mkdir(parents=True, exist_ok=True)
        self._evict()
        name = blake3.blake3(repr(manifest.tree).encode()).hexdigest()[:32]
        folder = self.trees / name
        with _flock(self.trees / f"{name}.lock", fcntl.LOCK_EX):
            if not folder.is_dir():
                part = self.trees / f".{name}-{secrets.token_hex(4)}"
                fetch_tree(manifest, self.store, part)
                read_only(part)
                part.rename(folder)
            os.utime(self.trees / f"{name}.lock")
        with _flock(self.trees / f"{name}.lock", fcntl.LOCK_SH):
            if not folder.is_dir():  # evicted between the two locks: fetch it again
                fetch_tree(manifest, self.store, folder)
            yield folder

    def _evict(self) -> None:
        now = time.time()
        for lock in self.trees.glob("*.lock"):
            try:
                if now - lock.stat().st_mtime < KEEP_SECONDS:
                    continue
                with _flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB):
                    remove_tree(lock.with_suffix(""))
                    lock.unlink()
            except OSError:  # in use (the lock is held) or removed by another process
                continue


class _TaskContent:
    """The Content port of one task on the node: the trees the server resolved for it."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self.manifests: dict[TreeRef, Manifest] = {}
        self.kept: frozenset[TreeRef] = frozenset()

    def checkout(self, tree: TreeRef, dest: Path) -> int:
        manifest = self.manifests.get(tree)
        if manifest is None:
            raise NotFound(f"tree {tree.repo}@{tree.commit}:{tree.path} was not sent to this node")
        return self._node.fetch(manifest, dest, cached=tree in self.kept)


_NODES: dict[NodeSpec, Node] = {}
_NODES_LOCK = threading.Lock()


def node(spec: NodeSpec) -> Node:
    """This worker process' Node for `spec` (made at its first task, then reused)."""
    with _NODES_LOCK:
        found = _NODES.get(spec)
        if found is None:
            found = _NODES[spec] = Node(spec)
        return found


def fetch_tree(manifest: Manifest, store: ObjectStore, dest: Path) -> int:
    """Write every file of `manifest` into `dest` from `store`: chunks close together in one
    pack are read with one range read. Returns the bytes written."""
    dest.mkdir(parents=True, exist_ok=True)
    total = 0
    for entry in manifest.files:
        target = dest / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            for data in _read(store, entry.chunks):
                out.write(data)
                total += len(data)
    return total


def _read(store: ObjectStore, chunks: tuple[StoredRange, ...]) -> Iterator[bytes]:
    run: list[StoredRange] = []
    for chunk in chunks:
        if run and not _follows(run, chunk):
            yield from _read_run(store, run)
            run = []
        run.append(chunk)
    if run:
        yield from _read_run(store, run)


def _follows(run: list[StoredRange], chunk: StoredRange) -> bool:
    last = run[-1]
    end = last.offset + last.stored_len
    return (
        chunk.key == last.key
        and end <= chunk.offset <= end + _GAP
        and chunk.offset + chunk.stored_len - run[0].offset <= _RUN
    )


def _read_run(store: ObjectStore, run: list[StoredRange]) -> Iterator[bytes]:
    start = run[0].offset
    end = max(c.offset + c.stored_len for c in run)
    view = memoryview(store.get_range(run[0].key, start, end - start))
    for chunk in run:
        at = chunk.offset - start
        yield decode_chunk(chunk.codec, chunk.raw_len, view[at : at + chunk.stored_len])


@contextlib.contextmanager
def _flock(path: Path, how: int) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, how)
        yield
    finally:
        os.close(fd)
