"""Staged puts: a commit's files sent while the upload goes on, committed in one go later.

A folder of 20,000 files is ONE commit of 20,000 rows. Sent with the commit, decoding, parsing
and normalising them (~0.1 s) came after everything else; staged batch by batch while the
client still reads files, that work overlaps the upload and the commit only names the staging.
Nothing is visible before the commit, and the commit checks every chunk as usual.

Stagings live in the database (kaon.ports.stagings): a staging begun through one server is
committed through any other, and survives a restart. One that expired or was dropped makes the
commit answer NotFound, and the client sends every row with the commit instead. A staging is
dropped once its commit is made, or after IDLE seconds without use; at most OPEN stagings exist
at once (the least recently used goes).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable

from kaon.core.errors import InvalidInput, StagingNotFound
from kaon.core.ids import branch_name
from kaon.core.tree import FileContent
from kaon.ports.stagings import StagingRecord, StagingStore
from kaon.services.commits import Put, content_map
from kaon.services.repos import RepoService

IDLE = 3600.0
OPEN = 64


class StagingArea:
    def __init__(self, repos: RepoService, clock: Callable[[], float], store: StagingStore) -> None:
        self._repos = repos
        self._clock = clock
        self._store = store
        self._lock = threading.Lock()
        self._last = 0.0

    def open(self, repo: str, branch: str) -> str:
        """A new, empty staging for a commit to `repo`@`branch`; its id."""
        name, branch = self._repos.get_repo(repo).name, branch_name(branch)
        now = self._now()
        self._store.expire(now - IDLE, OPEN - 1)
        sid = uuid.uuid4().hex
        self._store.open(StagingRecord(sid, name, branch, now))
        return sid

    def add(self, sid: str, repo: str, puts: Iterable[Put]) -> int:
        """Stage `puts` (a path staged again is replaced at the commit); the number of rows
        staged so far (a path staged twice counts twice)."""
        rows = content_map(puts)  # checked first: a bad batch stages nothing
        self._get(sid, repo)
        count = self._store.add(sid, rows)
        if count is None:
            raise self._gone(sid, repo)
        return count

    def puts(self, sid: str, repo: str, branch: str) -> dict[str, FileContent]:
        """What `sid` staged, for the commit to `repo`@`branch` that names it."""
        staging = self._get(sid, repo)
        if staging.branch != branch_name(branch):
            raise InvalidInput(f"staging {sid} is for branch '{staging.branch}', not '{branch}'")
        return self._store.puts(sid)

    def close(self, sid: str) -> None:
        """Forget `sid` (its commit is made)."""
        self._store.drop(sid)

    def _get(self, sid: str, repo: str) -> StagingRecord:
        now = self._now()
        staging = self._store.touch(sid, now, now - IDLE)
        if staging is None or staging.repo != repo:
            raise self._gone(sid, repo)
        return staging

    def _now(self) -> float:
        """The clock, strictly increasing in this process: stagings used one after the other
        at one clock reading still go least recently used first."""
        with self._lock:
            self._last = max(self._clock(), self._last + 1e-6)
            return self._last

    @staticmethod
    def _gone(sid: str, repo: str) -> StagingNotFound:
        return StagingNotFound(
            f"no staging {sid!r} for repo '{repo}' (expired, or committed already): "
            "send the files with the commit"
        )
