"""Garbage collection: mark what live commits reach, sweep the rest, repack sparse packs.

Chunks of uploads still going on are pinned by their upload lease (kaon.services.leases) and
spared as if a commit reached them, until the lease is released or expires.

Several servers (kaon.services.cluster): one gc at a time, the one holding the GC claim
("gc"); another is refused (Conflict, naming the server). Writes in flight are what the
in-process lock keeps gc away from (a commit's trees written before its commit row, a tree or
chunk found stored and reused), so gc first makes every live server hold its own: each
server watches the claim (`watch`, every heartbeat), and while another server's gc runs it
holds its lock exclusively (its writes in flight end, new ones wait), says so with a claim
"quiet:<its id>", and forgets which trees it stored (gc may delete them) when the gc ends.
The gc starts once every live server is quiet (or refuses after QUIET_WAIT seconds).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from kaon.core.cluster import ClaimKind
from kaon.core.errors import Conflict
from kaon.core.ids import Digest, new_pack_id
from kaon.core.pack import HEADER, MAGIC, encode_frame
from kaon.core.tree import DirNode, FileNode
from kaon.ports.metadata import ChunkLocation, MetadataStore, PackInfo
from kaon.ports.objectstore import ObjectStore
from kaon.services.cluster import ClusterService
from kaon.services.leases import UploadLeases
from kaon.services.locks import SharedExclusiveLock
from kaon.services.objectkeys import COMMITS, PACKS, TREES, name_of, pack_key, tree_key
from kaon.services.trees import TreeStore

REPACK_BELOW = 0.5  # rewrite a pack when less than half of its bytes are still live
GC_KEY = "gc"  # the GC claim of the server whose gc runs
QUIET = "quiet:"  # + a server id: the GC claim of a server holding its writes for that gc
QUIET_WAIT = 300.0  # seconds a gc waits for the other servers' writes in flight to end
_PAUSE_POLL = 0.05  # seconds between a quiet server's looks at whether the gc ended

log = logging.getLogger("kaon.gc")


@runtime_checkable
class TempCleaner(Protocol):
    """Optional ObjectStore capability: remove temp files left by crashed writers."""

    def clean_temp(self, older_than_seconds: float) -> int: ...


@dataclass(frozen=True)
class GcReport:
    packs_deleted: int
    packs_rewritten: int
    chunks_dropped: int
    trees_deleted: int
    commits_deleted: int
    bytes_freed: int


class GarbageCollector:
    def __init__(
        self,
        meta: MetadataStore,
        objects: ObjectStore,
        trees: TreeStore,
        lock: SharedExclusiveLock,
        clock: Callable[[], float],
        leases: UploadLeases,
        scratch: Sequence[TempCleaner] = (),
        roots: Callable[[], Iterable[str]] = lambda: (),
        cluster: ClusterService | None = None,
    ) -> None:
        self._cluster = cluster  # None: this process is the whole platform
        self._quiet = threading.Lock()  # held while this server is quiet for another's gc
        self._leases = leases
        self._roots = roots  # trees kept although no commit holds them: the outputs of
        # pipeline datums a later job may reuse (PipelineStore.reusable_outputs)
        self._scratch = scratch  # where crashed writers may have left files (kaon.store.drop)
        self._meta = meta
        self._objects = objects
        self._trees = trees
        self._lock = lock
        self._clock = clock

    def collect(self) -> GcReport:
        cluster = self._cluster
        if cluster is not None and not cluster.claim(ClaimKind.GC, GC_KEY):
            owner = cluster.owner(ClaimKind.GC, GC_KEY)
            where = f"server {owner.url}" if owner else "another server"
            raise Conflict(f"gc is running on {where}: try again once it has ended")
        try:
            with self._lock.exclusive():
                try:
                    self._others_quiet()
                    return self._collect()
                finally:
                    self._trees.forget_saved()
        finally:
            if cluster is not None:
                cluster.release(ClaimKind.GC, GC_KEY)

    def _others_quiet(self) -> None:
        """Wait until every other live server holds its writes (see the module doc)."""
        cluster = self._cluster
        if cluster is None:
            return
        deadline = time.monotonic() + QUIET_WAIT
        while True:
            others = {s.id: s.url for s in cluster.servers() if s.id != cluster.id}
            quiet = {c.key.removeprefix(QUIET) for c in cluster.claims(ClaimKind.GC)}
            waiting = [url for sid, url in others.items() if sid not in quiet]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise Conflict(
                    f"gc did not start: server {', '.join(waiting)} still writes after "
                    f"{QUIET_WAIT:g} s; try again"
                )
            time.sleep(_PAUSE_POLL)

    def watch(self) -> None:
        """Every heartbeat: when another server's gc runs, hold this server's writes until
        it ends (in a thread of its own; nothing when holding already)."""
        cluster = self._cluster
        if cluster is None:
            return
        owner = cluster.owner(ClaimKind.GC, GC_KEY)
        if owner is None or owner.id == cluster.id or not self._quiet.acquire(blocking=False):
            return
        threading.Thread(target=self._hold_writes, name="kaon-gc-quiet", daemon=True).start()

    def _hold_writes(self) -> None:
        cluster = self._cluster
        assert cluster is not None
        me = QUIET + cluster.id
        try:
            with self._lock.exclusive():
                cluster.claim(ClaimKind.GC, me)
                try:
                    while True:
                        owner = cluster.owner(ClaimKind.GC, GC_KEY)
                        if owner is None or owner.id == cluster.id:
                            break
                        time.sleep(_PAUSE_POLL)
                finally:
                    self._trees.forget_saved()  # that gc may have deleted trees stored here
                    cluster.release(ClaimKind.GC, me)
        except Exception:
            log.warning("holding writes for another server's gc failed", exc_info=True)
        finally:
            self._quiet.release()

    def _collect(self) -> GcReport:
        live_commits: set[str] = set()
        live_trees: set[Digest] = set()
        live_chunks: set[Digest] = set()
        for commit in self._meta.iter_commits():
            live_commits.add(commit.id)
            if commit.tree:
                self._mark(commit.tree, live_trees, live_chunks)
        for root in self._roots():
            if self._objects.has(tree_key(Digest(root))):
                self._mark(Digest(root), live_trees, live_chunks)
        live_chunks |= self._leases.spared()  # uploads not committed yet (kaon.services.leases)
        freed = 0
        packs_deleted = packs_rewritten = chunks_dropped = 0
        for pack in self._meta.list_packs():
            chunks = self._meta.pack_chunks(pack.id)
            live = [c for c in chunks if c.digest in live_chunks]
            live_bytes = sum(c.stored_len + HEADER.size for c in live)
            if not live:
                self._objects.delete(pack_key(pack.id))
                self._meta.drop_pack(pack.id)
                freed += pack.size
                packs_deleted += 1
                chunks_dropped += len(chunks)
            elif live_bytes < pack.size * REPACK_BELOW:
                freed += pack.size - self._repack(pack, live)
                packs_rewritten += 1
                chunks_dropped += len(chunks) - len(live)
        # packs stored but not indexed: an upload killed before indexing, or one still being
        # written (pinned by its lease before it appears: read after listing, see ChunkStore)
        stored = list(self._objects.list(PACKS))
        known_packs = {p.id for p in self._meta.list_packs()}  # with the packs just rewritten
        spared = self._leases.spared()
        for info in stored:
            name = name_of(info.key)
            if name not in known_packs and name not in spared:
                self._objects.delete(info.key)
                freed += info.size
                packs_deleted += 1
        trees_deleted = 0
        for info in list(self._objects.list(TREES)):
            if name_of(info.key) not in live_trees:
                self._objects.delete(info.key)
                freed += info.size
                trees_deleted += 1
        commits_deleted = 0
        for info in list(self._objects.list(COMMITS)):
            if name_of(info.key) not in live_commits:
                self._objects.delete(info.key)
                freed += info.size
                commits_deleted += 1
        if isinstance(self._objects, TempCleaner):
            freed += self._objects.clean_temp(60.0)
        for cleaner in self._scratch:
            freed += cleaner.clean_temp(3600.0)  # a put may still be writing a newer one
        return GcReport(
            packs_deleted, packs_rewritten, chunks_dropped, trees_deleted, commits_deleted, freed
        )

    def _mark(self, root: Digest, live_trees: set[Digest], live_chunks: set[Digest]) -> None:
        stack = [root]
        while stack:
            d = stack.pop()
            if d in live_trees:
                continue
            live_trees.add(d)
            for entry in self._trees.load(d).entries:
                if isinstance(entry, FileNode):
                    live_chunks.update(c.digest for c in entry.chunks)
                elif isinstance(entry, DirNode):
                    stack.append(entry.tree)

    def _repack(self, old: PackInfo, live: list[ChunkLocation]) -> int:
        """Copy the live frames of `old` into a new pack; returns the new pack's size."""
        new_id = new_pack_id()
        parts: list[bytes] = [MAGIC]
        moved: list[ChunkLocation] = []
        pos = len(MAGIC)
        for loc in live:
            stored = self._objects.get_range(pack_key(old.id), loc.offset, loc.stored_len)
            header = encode_frame(loc.digest, loc.codec, loc.raw_len, stored)
            parts += [header, stored]
            pos += len(header)
            moved.append(
                ChunkLocation(loc.digest, new_id, pos, len(stored), loc.raw_len, loc.codec)
            )
            pos += len(stored)
        self._objects.put(pack_key(new_id), parts)
        self._objects.sync()  # the new copy is durable before the index points at it
        self._meta.add_pack(PackInfo(new_id, pos, self._clock()), [])
        self._meta.move_chunks(moved)
        self._objects.delete(pack_key(old.id))
        self._meta.drop_pack(old.id)
        return pos
