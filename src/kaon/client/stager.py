"""Stager: a put's commit rows sent while the upload goes on (see kaon.services.staging).

A folder of 20,000 files is ONE commit of 20,000 rows; sent with the commit, the server decoded
and checked them (~0.1 s) after everything else. Staged STAGE_ROWS at a time in the background
while files are still read, the commit then names the staging and carries only the last rows.
A server without stagings (older), or one that lost its staging (restart, expiry), gets every
row with the commit instead: staging only ever saves time.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from kaon.client.rest import RestApi
from kaon.core.errors import KaonError

STAGE_ROWS = 2048  # rows staged at a time: a put of fewer files does not stage at all
Row = dict[str, Any]


class Stager:
    def __init__(self, client: RestApi, repo: str, branch: str) -> None:
        self._client = client
        self._repo = repo
        self._branch = branch
        # a thread of its own: one request at a time, not delaying the "which are missing"
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="kaon-stage")
        self._staged = 0  # rows handed over so far: the first ones of the put's list
        self._id: str | None = None
        self._futures: list[Future[None]] = []
        self._broken = False  # no staging on this server: every row goes with the commit

    def offer(self, rows: list[Row]) -> None:
        """`rows`: the put's rows so far, in commit order (one list that grows). Stages the
        new ones in the background once there are STAGE_ROWS of them."""
        if self._broken or len(rows) - self._staged < STAGE_ROWS:
            return
        part = rows[self._staged :]
        self._staged = len(rows)
        self._futures.append(self._executor.submit(self._stage, part))

    def split(self, rows: list[Row]) -> tuple[str | None, list[Row]]:
        """(staging, rows the commit carries) for a commit of all of `rows`."""
        for future in self._futures:
            future.result()
        self._futures.clear()
        if self._broken or self._id is None:
            return None, rows
        return self._id, rows[self._staged :]

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def lost(self) -> None:
        """The server no longer has the staging (StagingNotFound): commit every row."""
        self._broken = True

    def _stage(self, part: list[Row]) -> None:
        if self._broken:
            return
        try:
            if self._id is None:
                self._id = self._client.open_staging(self._repo, self._branch)
            self._client.stage(self._repo, self._id, part)
        except KaonError:  # an older server, a lost staging: the commit carries every row
            self._broken = True
