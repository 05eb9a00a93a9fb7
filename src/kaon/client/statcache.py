"""Local stat cache: (path, size, mtime, inode) → chunk list, so re-putting unchanged data
costs a stat per file instead of a read (git index habits).

It also remembers, per target (server, repo, branch), the commit the last put made and which
local file state each remote path got: the next put sends only what changed since that commit
(the server refuses with base_moved if the branch has moved, and the client sends everything).
Those states are kept in generations (one blob each): a put that replaces them all writes a
new generation while the server commits, then the target only names it."""

from __future__ import annotations

import marshal
import os
import sqlite3
import struct
import threading
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from kaon.config import private_dir

_REF = struct.Struct(">32sQ")
_BATCH = 500
_VERSION = 3  # layout of the generations and bases tables


class StatKey(NamedTuple):  # a tuple: 20,000 of them are compared per re-put
    path: str
    size: int
    mtime_ns: int
    inode: int


def encode_chunks(chunks: Sequence[tuple[str, int]]) -> bytes:
    return b"".join(_REF.pack(bytes.fromhex(d), n) for d, n in chunks)


def decode_chunks(blob: bytes) -> list[tuple[str, int]]:
    return [(d.hex(), n) for d, n in _REF.iter_unpack(blob)]


class StatCache:
    def __init__(self, path: Path) -> None:
        private_dir(path.parent)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # its WAL files take its mode
        # the busy timeout comes first: setting WAL on a cache another `kaon put` is opening
        # takes a lock too, and without it 50 concurrent puts met "database is locked"
        self._db = sqlite3.connect(
            str(path), timeout=30.0, check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, "
            "mtime_ns INTEGER, inode INTEGER, chunks BLOB)"
        )
        if self._db.execute("PRAGMA user_version").fetchone()[0] != _VERSION:
            self._db.execute(
                "BEGIN IMMEDIATE"
            )  # only a cache: older layouts are dropped, not migrated
            self._db.execute("DROP TABLE IF EXISTS puts")
            self._db.execute("DROP TABLE IF EXISTS bases")
            self._db.execute("DROP TABLE IF EXISTS generations")
            self._db.execute("CREATE TABLE generations (id TEXT PRIMARY KEY, files BLOB)")
            self._db.execute(
                "CREATE TABLE bases (target TEXT PRIMARY KEY, commit_id TEXT, generation TEXT)"
            )
            self._db.execute(f"PRAGMA user_version = {_VERSION}")
            self._db.execute("COMMIT")
        self._lock = threading.Lock()

    # Every write transaction is BEGIN IMMEDIATE: it takes the write lock first, waiting out
    # other `kaon put`s (the busy timeout), so its reads see the latest rows. A deferred
    # transaction that read first is refused its upgrade at once when another process wrote
    # meanwhile (SQLITE_BUSY_SNAPSHOT, which no busy timeout retries).

    def lookup(self, keys: Sequence[StatKey]) -> dict[str, list[tuple[str, int]]]:
        """Chunk lists of the keys whose size, mtime and inode still match."""
        wanted = {k.path: k for k in keys}
        out: dict[str, list[tuple[str, int]]] = {}
        paths = list(wanted)
        with self._lock:
            for i in range(0, len(paths), _BATCH):
                part = paths[i : i + _BATCH]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    f"SELECT path, size, mtime_ns, inode, chunks FROM files WHERE path IN ({marks})",
                    part,
                ).fetchall()
                for path, size, mtime_ns, inode, blob in rows:
                    k = wanted[path]
                    if (k.size, k.mtime_ns, k.inode) == (size, mtime_ns, inode):
                        out[path] = decode_chunks(blob)
        return out

    def store(self, entries: Iterable[tuple[StatKey, Sequence[tuple[str, int]]]]) -> None:
        rows = [(k.path, k.size, k.mtime_ns, k.inode, encode_chunks(c)) for k, c in entries]
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def base(self, target: str) -> tuple[str | None, dict[str, tuple[str, int, int, int]]]:
        """The commit the last put to `target` made, and remote path → local file state then
        (plain tuples: equal to the StatKey of an unchanged file)."""
        with self._lock:
            row = self._db.execute(
                "SELECT b.commit_id, g.files FROM bases b JOIN generations g "
                "ON g.id = b.generation WHERE b.target = ?",
                (target,),
            ).fetchone()
        if row is None:
            return None, {}
        return row[0], _load(row[1])

    def stage(self, files: Iterable[tuple[str, StatKey]]) -> str:
        """Write, as a new generation, what each remote path will hold if the commit being
        made succeeds (while it is made); `record(..., staged=)` then only names it.
        Generations no target names any more (replaced, or staged by a put that died) are
        deleted here, in the background too."""
        generation = uuid.uuid4().hex
        blob = marshal.dumps({remote: _plain(key) for remote, key in files})
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "DELETE FROM generations WHERE id NOT IN (SELECT generation FROM bases)"
            )
            self._db.execute("INSERT INTO generations VALUES (?, ?)", (generation, blob))
            self._db.execute("COMMIT")
        return generation

    def record(
        self,
        target: str,
        commit_id: str,
        files: Iterable[tuple[str, StatKey]] = (),
        *,
        staged: str | None = None,
    ) -> None:
        """After a put to `target` made `commit_id`: what each remote path now holds. With
        `staged` (the put was not relative to the previous base: the branch may have changed
        any path meanwhile) that generation replaces the target's; else `files` update it
        (the put sent only what changed)."""
        changed = {remote: _plain(key) for remote, key in files}
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            generation = staged
            if generation is None:
                row = self._db.execute(
                    "SELECT g.id, g.files FROM bases b JOIN generations g "
                    "ON g.id = b.generation WHERE b.target = ?",
                    (target,),
                ).fetchone()
                generation = row[0] if row else uuid.uuid4().hex
                if changed or row is None:  # an unchanged re-put only moves the base
                    known = _load(row[1]) if row else {}
                    known.update(changed)
                    self._db.execute(
                        "INSERT OR REPLACE INTO generations VALUES (?, ?)",
                        (generation, marshal.dumps(known)),
                    )
            self._db.execute(
                "INSERT OR REPLACE INTO bases VALUES (?, ?, ?)", (target, commit_id, generation)
            )
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _plain(key: StatKey) -> tuple[str, int, int, int]:
    return (key.path, key.size, key.mtime_ns, key.inode)  # marshal takes plain tuples only


def _load(blob: bytes) -> dict[str, tuple[str, int, int, int]]:
    """A generation: remote path -> (path, size, mtime_ns, inode), marshalled as one blob
    (20,000 files in ~5 ms, where a row each cost ~60 ms to write and ~25 ms to read)."""
    try:
        rows = marshal.loads(blob)  # the user's own file: trusted like the rest of KAON_HOME
    except (EOFError, ValueError, TypeError):  # another Python's format: only a cache
        return {}
    return rows if isinstance(rows, dict) else {}
