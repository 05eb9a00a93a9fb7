"""Staged puts: a commit's files sent while the upload goes on, committed in one go later.

A folder of 20,000 files is ONE commit of 20,000 rows. Sent with the commit, decoding, parsing
and normalising them (~0.1 s) came after everything else; staged batch by batch while the
client still reads files, that work overlaps the upload and the commit only names the staging.
Nothing is visible before the commit, and the commit checks every chunk as usual.

Stagings live in this server's memory: a restart loses them, the commit answers NotFound, and
the client sends every row with the commit instead. A staging is dropped once its commit is
made, or after IDLE seconds without use; at most OPEN stagings exist at once (the oldest goes).
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kaon.core.errors import InvalidInput, StagingNotFound
from kaon.core.ids import BranchName, RepoName, branch_name
from kaon.core.tree import FileContent
from kaon.services.commits import Put, content_map
from kaon.services.repos import RepoService

IDLE = 3600.0
OPEN = 64


@dataclass
class _Staging:
    repo: RepoName
    branch: BranchName
    touched: float
    puts: dict[str, FileContent] = field(default_factory=dict)


class StagingArea:
    def __init__(self, repos: RepoService, clock: Callable[[], float]) -> None:
        self._repos = repos
        self._clock = clock
        self._open: OrderedDict[str, _Staging] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()

    def open(self, repo: str, branch: str) -> str:
        """A new, empty staging for a commit to `repo`@`branch`; its id."""
        staging = _Staging(self._repos.get_repo(repo).name, branch_name(branch), self._clock())
        sid = uuid.uuid4().hex
        with self._lock:
            self._expire()
            while len(self._open) >= OPEN:
                self._open.popitem(last=False)
            self._open[sid] = staging
        return sid

    def add(self, sid: str, repo: str, puts: Iterable[Put]) -> int:
        """Stage `puts` (a path staged again is replaced); the number of files staged."""
        rows = content_map(puts)  # checked before the lock: the rows of a batch at once
        with self._lock:
            staging = self._get(sid, repo)
            staging.puts.update(rows)
            return len(staging.puts)

    def puts(self, sid: str, repo: str, branch: str) -> dict[str, FileContent]:
        """What `sid` staged, for the commit to `repo`@`branch` that names it."""
        with self._lock:
            staging = self._get(sid, repo)
            if staging.branch != branch_name(branch):
                raise InvalidInput(
                    f"staging {sid} is for branch '{staging.branch}', not '{branch}'"
                )
            return dict(staging.puts)

    def close(self, sid: str) -> None:
        """Forget `sid` (its commit is made)."""
        with self._lock:
            self._open.pop(sid, None)

    def _get(self, sid: str, repo: str) -> _Staging:
        self._expire()
        staging = self._open.get(sid)
        if staging is None or staging.repo != repo:
            raise StagingNotFound(
                f"no staging {sid!r} for repo '{repo}' (expired, or the server restarted): "
                "send the files with the commit"
            )
        staging.touched = self._clock()
        self._open.move_to_end(sid)
        return staging

    def _expire(self) -> None:
        limit = self._clock() - IDLE
        while self._open:
            sid, oldest = next(iter(self._open.items()))
            if oldest.touched >= limit:
                return
            del self._open[sid]
