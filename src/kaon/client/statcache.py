"""Local stat cache: (path, size, mtime, inode) → chunk list, so re-putting unchanged data
costs a stat per file instead of a read (git index habits).

It also remembers, per target (server, repo, branch), the commit the last put made and which
local file state each remote path got: the next put sends only what changed since that commit
(the server refuses with base_moved if the branch has moved, and the client sends everything).
Those rows are kept in generations: a put that replaces them all writes a new generation while
the server commits, then the target only names it."""

from __future__ import annotations

import sqlite3
import struct
import threading
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

_REF = struct.Struct(">32sQ")
_BATCH = 500
_VERSION = 2  # layout of the puts and bases tables


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
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, "
            "mtime_ns INTEGER, inode INTEGER, chunks BLOB)"
        )
        if self._db.execute("PRAGMA user_version").fetchone()[0] != _VERSION:
            self._db.execute("BEGIN")  # only a cache: older layouts are dropped, not migrated
            self._db.execute("DROP TABLE IF EXISTS puts")
            self._db.execute("DROP TABLE IF EXISTS bases")
            self._db.execute(
                "CREATE TABLE puts (generation TEXT, remote TEXT, path TEXT, size INTEGER, "
                "mtime_ns INTEGER, inode INTEGER, PRIMARY KEY (generation, remote))"
            )
            self._db.execute(
                "CREATE TABLE bases (target TEXT PRIMARY KEY, commit_id TEXT, generation TEXT)"
            )
            self._db.execute(f"PRAGMA user_version = {_VERSION}")
            self._db.execute("COMMIT")
        self._lock = threading.Lock()

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
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def base(self, target: str) -> tuple[str | None, dict[str, StatKey]]:
        """The commit the last put to `target` made, and remote path → local file state then."""
        with self._lock:
            row = self._db.execute(
                "SELECT commit_id, generation FROM bases WHERE target = ?", (target,)
            ).fetchone()
            if row is None:
                return None, {}
            rows = self._db.execute(
                "SELECT remote, path, size, mtime_ns, inode FROM puts WHERE generation = ?",
                (row[1],),
            ).fetchall()
        return row[0], {r[0]: StatKey._make(r[1:]) for r in rows}

    def stage(self, files: Iterable[tuple[str, StatKey]]) -> str:
        """Write, as a new generation, what each remote path will hold if the commit being
        made succeeds (while it is made: 20,000 rows cost ~60 ms); `record(..., staged=)`
        then only names it. Generations no target names any more (replaced, or staged by a
        put that died) are deleted here, in the background too."""
        generation = uuid.uuid4().hex
        rows = [(generation, r, k.path, k.size, k.mtime_ns, k.inode) for r, k in files]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute(
                "DELETE FROM puts WHERE generation NOT IN (SELECT generation FROM bases)"
            )
            self._db.executemany("INSERT INTO puts VALUES (?, ?, ?, ?, ?, ?)", rows)
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
        any path meanwhile) that generation replaces the target's rows; else `files` update
        them (the put sent only what changed)."""
        with self._lock:
            self._db.execute("BEGIN")
            row = self._db.execute(
                "SELECT generation FROM bases WHERE target = ?", (target,)
            ).fetchone()
            generation = staged or (row[0] if row else uuid.uuid4().hex)
            self._db.executemany(
                "INSERT OR REPLACE INTO puts VALUES (?, ?, ?, ?, ?, ?)",
                [(generation, r, k.path, k.size, k.mtime_ns, k.inode) for r, k in files],
            )
            self._db.execute(
                "INSERT OR REPLACE INTO bases VALUES (?, ?, ?)", (target, commit_id, generation)
            )
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()
