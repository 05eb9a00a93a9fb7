"""Upload: chunk and hash locally, ask the server which chunks it lacks, send only those in
packs, then record every file as ONE commit (restic/casync habits).

Memory stays bounded: big files are cut by content-defined chunking while streaming and only
(offset, length) of each chunk is remembered; chunk bytes are re-read (page cache) only for
the chunks the server lacks, a batch at a time, compressed and sent by three worker threads
(three packs in flight keep the server writing while it receives the next one), each built
in place by kaon.client.packer. The "which are missing" question of a batch is asked in the
background while the next batch is cut. Files unchanged since this client's own last commit
on the branch are not sent at all (`base`, see docs/architecture.md).

Packs go over HTTP, or into the server's drop folder when it is on this machine
(kaon.client.sender).

Each put holds an upload lease (kaon.client.lease): the server's gc spares every chunk the put
asked about or sent until its commit is made, so gc never makes a put fail or resend.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from kaon.client.batch import Batch, cut, locate
from kaon.client.lease import UploadLease
from kaon.client.localfiles import (
    LocalFile,
    held_open,
    plan,
    read_small,
)
from kaon.client.models import CommitInfo, TransferStats
from kaon.client.packer import Source
from kaon.client.rest import RestApi
from kaon.client.sender import PackSender
from kaon.client.stager import Stager
from kaon.client.statcache import StatCache, StatKey
from kaon.core import chunking
from kaon.core.errors import BaseMoved, InvalidInput, MissingChunks, StagingNotFound

__all__ = ["LocalFile", "Uploader", "plan"]

PACK_BYTES = 32 * 1024 * 1024
PROGRESS_STEP = 4 * 1024 * 1024
LOCAL_MIN = 8 * 1024 * 1024  # files the server chunks itself when it is on this machine
MAX_INFLIGHT = 3
GENERATION_MIN = 1000  # more changed files than this: the stat cache gets a new generation
Progress = Callable[[int], None]


class Uploader:
    def __init__(
        self,
        client: RestApi,
        cache: StatCache | None,
        progress: Progress | None = None,
        *,
        drop: bool | None = None,
    ) -> None:
        self._client = client
        self._lease = UploadLease(client)
        self._sender = PackSender(client, drop, self._lease.id)
        self._cache = cache
        self._progress = progress or (lambda n: None)
        self._unreported = 0  # progress not yet reported (see _advance)
        self._pool = ThreadPoolExecutor(MAX_INFLIGHT, thread_name_prefix="kaon-upload")
        # asks the server which chunks of a batch it lacks while the main thread cuts the next
        self._negotiator = ThreadPoolExecutor(1, thread_name_prefix="kaon-negotiate")
        self._pending: list[Future[None]] = []
        self._count_lock = threading.Lock()
        self._inflight: list[Future[int]] = []
        self._chunks = self._new_chunks = self._new_bytes = self._sent = 0
        self._submitted: set[str] = set()  # chunks on their way: not sent twice by one put

    def put(
        self,
        repo: str,
        branch: str,
        files: list[LocalFile],
        message: str = "",
        *,
        replace: bool = False,
    ) -> tuple[CommitInfo, TransferStats]:
        """Upload `files` as ONE commit; with `replace` the branch then holds exactly them.

        Files whose stat is what this client's last put to the branch recorded are not even
        looked up: the commit names only the others, relative to that put's commit (`base`).
        Only if the branch has moved since are the unchanged ones looked up and sent too."""
        started = time.time()
        target = f"{self._client.endpoint}|{repo}|{branch}"
        base, known = self._cache.base(target) if self._cache and not replace else (None, {})
        same = [f for f in files if known.get(f.remote) == f.key] if base else []
        rest = [f for f in files if known.get(f.remote) != f.key] if same else files
        owners: dict[str, LocalFile] = {}
        learned: list[tuple[StatKey, list[tuple[str, int]]]] = []
        stored: list[Future[None]] = []
        puts: list[dict[str, Any]] = []  # the commit's rows, staged while they come
        stager = Stager(self._client, repo, branch)
        generation: Future[str] | None = None  # the stat cache's rows, written meanwhile
        self._lease.start()
        try:
            self._scan(rest, owners, learned, stored, puts, stager)
            if self._cache and (base is None or len(rest) > GENERATION_MIN):
                generation = self._stage_generation(files)  # many rows: while it commits
            commit = None
            if base is not None:
                try:
                    commit = self._commit(
                        repo, branch, puts, stager, owners, message, started, base
                    )
                    self._advance(sum(f.key.size for f in same))
                except BaseMoved:  # someone else committed since: send every file
                    commit = None
            if commit is None:
                self._scan(same, owners, learned, stored, puts, stager)
                if self._cache and generation is None:
                    generation = self._stage_generation(files)
                commit = self._commit(
                    repo,
                    branch,
                    puts,
                    stager,
                    owners,
                    message,
                    started,
                    None,
                    ["/"] if replace else None,
                )
            self._advance(0, final=True)
            for future in stored:
                future.result()
            if self._cache and generation is None:  # relative to base, a few files changed
                self._cache.record(target, commit.id, [(f.remote, f.key) for f in rest])
            elif self._cache and generation is not None:
                self._cache.record(target, commit.id, staged=generation.result())
        finally:
            stager.close()
            self._negotiator.shutdown(wait=True, cancel_futures=True)
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._lease.end()
        stats = TransferStats(
            files=len(files),
            bytes=sum(f.key.size for f in files),
            chunks=self._chunks,
            new_chunks=self._new_chunks,
            new_bytes=self._new_bytes,
            sent_bytes=self._sent,
            cached_files=len(files) - len(learned),
            seconds=time.time() - started,
            sent_via=self._sender.via if self._sent else "",
        )
        return commit, stats

    def _stage_generation(self, files: list[LocalFile]) -> Future[str]:
        """What every file of the put holds, written to the stat cache as a new generation
        in the background while the server commits, named by `record` once it has."""
        assert self._cache is not None
        return self._negotiator.submit(self._cache.stage, [(f.remote, f.key) for f in files])

    def _scan(
        self,
        files: list[LocalFile],
        owners: dict[str, LocalFile],
        learned: list[tuple[StatKey, list[tuple[str, int]]]],
        stored: list[Future[None]],
        rows: list[dict[str, Any]],
        stager: Stager,
    ) -> None:
        """Append the commit rows of `files` to `rows` (staged as they come): chunk lists from
        the stat cache, else read (sending what the server lacks); what was read is cached in
        the background."""
        if not files:
            return
        hits = self._cache.lookup([f.key for f in files]) if self._cache else {}
        new: list[tuple[StatKey, list[tuple[str, int]]]] = []
        batch = Batch()
        for f in files:
            chunks = hits.get(f.key.path)
            if chunks is None:
                chunks = self._read(f, batch, owners)
                new.append((f.key, chunks))
            else:  # sent before: not even asked about; a commit that finds them
                self._advance(f.key.size)  # missing (other server, gc) gets them again
            for d, _ in chunks:
                owners.setdefault(d, f)
            self._chunks += len(chunks)
            rows.append({"path": f.remote, "size": f.key.size, "chunks": chunks})
            if batch.full():
                self._flush(batch, owners)
                batch = Batch()
                stager.offer(rows)
        self._flush(batch, owners)
        stager.offer(rows)
        self._advance(0, final=True)
        self._drain()
        learned += new
        if self._cache and new:  # cached while the server commits (20,000 rows: ~50 ms)
            stored.append(self._negotiator.submit(self._cache.store, new))

    def _commit(
        self,
        repo: str,
        branch: str,
        puts: list[dict[str, Any]],
        stager: Stager,
        owners: dict[str, LocalFile],
        message: str,
        started: float,
        base: str | None,
        deletes: list[str] | None = None,
    ) -> CommitInfo:
        for attempt in range(4):
            staged, carried = stager.split(puts)
            try:
                return self._client.commit(
                    repo,
                    branch,
                    carried,
                    deletes,
                    message=message,
                    started=started,
                    base=base,
                    staged=staged,
                )
            except StagingNotFound:  # expired, or the server restarted: every row, again
                stager.lost()
            except MissingChunks as exc:  # unknown to this server, or reclaimed by gc: send
                if attempt >= 2:
                    raise
                batch = Batch()
                for d in exc.details.get("missing", []):
                    batch.add(d, 0, None, None)  # located again by _flush, file by file
                self._flush(batch, owners, known_missing=True)
                self._drain()
        raise AssertionError("unreachable")

    def _read(
        self, f: LocalFile, batch: Batch, owners: dict[str, LocalFile]
    ) -> list[tuple[str, int]]:
        if f.key.size <= chunking.MIN_SIZE:  # most files of a big folder: no generator
            if f.key.size == 0:
                read_small(f)  # still checked: it may have vanished or changed
                return []
            content = read_small(f)
            digest = chunking.hash_chunk(content)
            batch.add(digest, f.key.size, content, None)  # _scan sends it when full
            self._advance(f.key.size)
            return [(digest, f.key.size)]
        if f.key.size >= LOCAL_MIN:
            with held_open(f):  # the server reads by path only what this client can read
                done = self._sender.chunk_on_server(f.key, self._advance)
            if done is not None:
                chunks, new_chunks, new_bytes = done
                with self._count_lock:
                    self._new_chunks += new_chunks
                    self._new_bytes += new_bytes
                    self._sent += new_bytes
                return chunks
        chunks = []
        for d, n, data, where in cut(f):
            chunks.append((d, n))
            if n:  # an empty file has no chunk to send (its empty bytes are falsy in _flush)
                batch.add(d, n, data, where)
                if batch.full():  # a big file is sent while it is read, not after
                    self._flush(batch, owners)
                    batch.clear()
            self._advance(n)
        return chunks

    def _advance(self, n: int, *, final: bool = False) -> None:
        """Progress, reported every PROGRESS_STEP bytes (a Rich update per file of 20,000
        cost more than reading it) and when `final`."""
        self._unreported += n
        if self._unreported >= PROGRESS_STEP or (final and self._unreported):
            self._progress(self._unreported)
            self._unreported = 0

    def _flush(
        self, batch: Batch, owners: dict[str, LocalFile], known_missing: bool = False
    ) -> None:
        """Send what the server lacks of `batch`: in the background (at most two batches
        waiting), so reading and hashing go on during the round trip."""
        if not batch.order:
            return
        if known_missing:
            self._negotiate(batch, owners, known_missing=True)
            return
        snapshot = Batch(list(batch.order), dict(batch.small), dict(batch.located), batch.nbytes)
        while len(self._pending) >= 2:
            self._pending.pop(0).result()
        self._pending.append(self._negotiator.submit(self._negotiate, snapshot, owners, False))

    def _negotiate(self, batch: Batch, owners: dict[str, LocalFile], known_missing: bool) -> None:
        if known_missing:  # reclaimed by gc: send again even if this put sent them
            missing = batch.order
        else:
            missing = [
                d
                for d in self._client.missing_chunks(batch.order, self._lease.id)
                if d not in self._submitted
            ]
        # known from the stat cache (or reclaimed by gc) but not on the server: read again
        lost = [d for d in missing if d not in batch.small and d not in batch.located]
        found = locate(lost, owners) if lost else {}
        frames: list[tuple[str, Source]] = []
        size = 0
        for d in missing:
            source: Source | None = batch.small.get(d) or batch.located.get(d) or found.get(d)
            if source is None:
                raise InvalidInput(
                    f"{owners[d].local} changed during the upload; nothing was committed"
                )
            frames.append((d, source))
            self._submitted.add(d)
            size += len(source) if isinstance(source, bytes) else source[2]
            if size >= PACK_BYTES:
                self._submit(frames)
                frames, size = [], 0
        if frames:
            self._submit(frames)

    def _submit(self, frames: list[tuple[str, Source]]) -> None:
        while len(self._inflight) >= MAX_INFLIGHT:
            self._inflight.pop(0).result()
        self._inflight.append(self._pool.submit(self._send, frames))

    def _drain(self) -> None:
        while self._pending:
            self._pending.pop(0).result()
        while self._inflight:
            self._inflight.pop(0).result()

    def _send(self, frames: list[tuple[str, Source]]) -> int:
        raw_total, sent = self._sender.send(frames)
        with self._count_lock:  # several sender threads
            self._new_chunks += len(frames)
            self._new_bytes += raw_total
            self._sent += sent
        return sent
