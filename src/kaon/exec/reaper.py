"""Removing what runs leave behind, off the run's path: a task's folder and its empty control
group are dropped by one background thread per server, so a datum's end does not wait for
the filesystem (rmdir costs ~0.7 ms each on ext4 with `discard`) or for a dying process to
leave its group.

`discard(folder)` renames the folder into `<root>/.trash/` at once (it is gone from its path
when the call returns) and removes it later; trash of a server no longer running is removed
at the next start (kaon.exec.inputs' sweep does the same for fetched inputs).
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import secrets
import threading
from collections.abc import Callable
from pathlib import Path

from kaon.exec.inputs import remove_tree, sweep_dead

log = logging.getLogger("kaon.exec")


class Reaper:
    """One thread doing the removals given to it, in order."""

    def __init__(self) -> None:
        self._todo: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def later(self, work: Callable[[], object]) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="reaper", daemon=True)
                self._thread.start()
        self._todo.put(work)

    def drain(self) -> None:
        """Wait until everything given so far is done (tests, shutdown)."""
        done = threading.Event()
        self.later(done.set)
        done.wait()

    def _loop(self) -> None:
        while True:
            work = self._todo.get()
            try:
                work()
            except Exception:  # a removal that fails must not stop the next ones
                log.exception("background removal failed")


REAPER = Reaper()  # the server's one


class Trash:
    """Folders below `root` dropped at once, removed in the background."""

    def __init__(self, root: Path, reaper: Reaper = REAPER) -> None:
        sweep_dead(root / ".trash")
        self._dir = root / ".trash" / f"{os.getpid()}-{secrets.token_hex(4)}"
        self._count = itertools.count()
        self._reaper = reaper

    def discard(self, folder: Path) -> None:
        """`folder` is gone from its path when this returns; its content is removed later."""
        if not folder.exists():
            return
        self._dir.mkdir(parents=True, exist_ok=True)
        target = self._dir / str(next(self._count))
        try:
            folder.rename(target)
        except OSError:  # another filesystem: remove it here and now
            remove_tree(folder)
            return
        self._reaper.later(lambda: remove_tree(target))
