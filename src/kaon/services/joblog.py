"""Job logs: timestamped lines appended to a local file while the job runs, read by offset
so that `kaon train logs -f` can follow; committed to the workspace's logs repo at the end."""

from __future__ import annotations

import threading
import time
from pathlib import Path

MAX_READ = 1024 * 1024


def stamp(line: str, now: float | None = None) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
    return f"[{when}] {line}"


class JobLog:
    """One log file; lines from several threads (parallel trials) never interleave mid-line."""

    def __init__(self, path: Path, prefix: str = "") -> None:
        self.path = path
        self._prefix = prefix
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)

    def write(self, line: str) -> None:
        """Append `line`; each line of a multi-line message is stamped and prefixed."""
        now = time.time()
        text = "".join(
            stamp(self._prefix + part, now) + "\n" for part in line.rstrip("\n").split("\n")
        )
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(text)

    def child(self, prefix: str) -> JobLog:
        """A writer to the same file whose lines start with `prefix` (e.g. "[trial 3] ")."""
        log = JobLog.__new__(JobLog)
        log.path = self.path
        log._prefix = self._prefix + prefix
        log._lock = self._lock
        return log


def read_from(path: Path, offset: int, limit: int = MAX_READ) -> tuple[bytes, int]:
    """Up to `limit` bytes of `path` from `offset`, ending at a line end when possible."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read(limit)
    except FileNotFoundError:
        return b"", offset
    if len(data) == limit:
        cut = data.rfind(b"\n")
        if cut >= 0:
            data = data[: cut + 1]
    return data, offset + len(data)
