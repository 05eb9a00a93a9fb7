"""AuditLog: the audit entries of writes, written off the request path.

A door (the REST API, the S3 gateway) adds an entry when it answers a write; adding is an
append to an in-memory queue. One background thread writes the queue in batches, each batch
one transaction: after `every` seconds (0.2) or once `batch` (500) entries wait, whichever
comes first. `flush()` writes everything added so far and waits for it (GET /v1/audit calls it
first, so a caller reads its own writes; permission changes call it before they answer, so they
are never lost). `close()` flushes and stops the thread (Platform.close).

What can be lost: the entries of the last `every` seconds before a kill -9 of the server, and
a batch whose write fails (the database is unreachable): logged as a warning, never an error
for the request that was audited. A queue over `limit` entries (the database is stuck) drops
the newest, also with a warning.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from kaon.core.audit import AuditEntry, AuditQuery
from kaon.core.users import Principal, Role
from kaon.ports.users import UserStore

log = logging.getLogger("kaon.audit")

Fixup = Callable[[AuditEntry], AuditEntry]  # completes an entry on the writer thread


@dataclass
class _Item:
    entry: AuditEntry
    fixup: Fixup | None


class AuditLog:
    def __init__(
        self,
        store: UserStore,
        clock: Callable[[], float] = time.time,
        *,
        every: float = 0.2,
        batch: int = 500,
        limit: int = 100_000,
    ) -> None:
        self._store = store
        self.clock = clock
        self._every = every
        self._batch = batch
        self._limit = limit
        self._cond = threading.Condition()
        self._pending: list[_Item] = []
        self._added = 0  # entries queued so far (dropped ones are not counted)
        self._done = 0  # entries written (or lost to a failed write) so far
        self._urgent = 0  # flush() calls waiting
        self._closed = False
        self._thread: threading.Thread | None = None
        self.lost = 0  # entries dropped or whose write failed

    def add(self, entry: AuditEntry, fixup: Fixup | None = None) -> int:
        """Queue `entry` (completed by `fixup` on the writer thread, e.g. a workspace looked
        up in the database); its number, for `flush(upto=...)`. Never blocks on the database."""
        with self._cond:
            if self._closed or len(self._pending) >= self._limit:
                self.lost += 1
                log.warning("audit: entry dropped (%s): %s", _why(self._closed), entry.action)
                return self._added
            self._pending.append(_Item(entry, fixup))
            self._added += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kaon-audit", daemon=True)
                self._thread.start()
            if len(self._pending) >= self._batch:
                self._cond.notify_all()
            return self._added

    def flush(self, upto: int | None = None, timeout: float = 30.0) -> bool:
        """Write every entry added so far (or up to number `upto`) now and wait for it; False
        if that took longer than `timeout` seconds."""
        with self._cond:
            target = self._added if upto is None else upto
            if self._done >= target:
                return True
            self._urgent += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(lambda: self._done >= target, timeout)
            finally:
                self._urgent -= 1

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued and stop the writer thread; entries added later are dropped."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def entries(self, who: Principal, query: AuditQuery) -> list[AuditEntry]:
        """The entries matching `query` that `who` may read, newest first, once everything
        added so far is written. An admin reads them all; any other user the entries of the
        workspaces they own and their own (a job's token: only those of its workspace)."""
        self.flush()
        if who.workspace is not None:  # a job's token
            if query.workspace not in (None, who.workspace):
                return []
            query = replace(query, workspace=who.workspace)
        if not who.admin:
            owned = self._store.roles_of(who.user)
            mine = tuple(sorted(w for w, r in owned.items() if r is Role.OWNER))
            query = replace(query, viewer=who.user, owned=mine)
        return self._store.audit(query)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closed)
                if not self._pending:  # closed and nothing left
                    return
                deadline = time.monotonic() + self._every
                while not (self._closed or self._urgent or len(self._pending) >= self._batch):
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._cond.wait(left):
                        break
                taken = self._pending[: self._batch]
                del self._pending[: self._batch]
            self._write(taken)
            with self._cond:
                self._done += len(taken)
                self._cond.notify_all()

    def _write(self, items: list[_Item]) -> None:
        entries = []
        for item in items:
            entry = item.entry
            if item.fixup is not None:
                try:
                    entry = item.fixup(entry)
                except Exception as exc:  # noqa: BLE001 - a failed lookup: the entry as it was
                    log.debug("audit: cannot complete %s: %s", entry.action, exc)
            entries.append(entry)
        try:
            self._store.record(entries)
        except Exception as exc:  # noqa: BLE001 - the audited requests were answered already
            self.lost += len(entries)
            log.warning("audit: %d entries lost, the write failed: %s", len(entries), exc)


def _why(closed: bool) -> str:
    return "the platform is stopping" if closed else "the queue is full: the database is stuck"
