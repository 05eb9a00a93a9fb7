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


BLOCK = 64 * 1024


def last_lines(data: bytes, lines: int, whole: bool = True) -> bytes:
    """The last `lines` lines of `data` (a final line end ends the last line, it does not
    start another); `whole`: `data` starts at a line start (else its partial first line is
    dropped when fewer lines than asked are found, unless it is the only one)."""
    if lines <= 0:
        return b""
    body = data[:-1] if data.endswith(b"\n") else data
    cut = len(body)
    for _ in range(lines):
        cut = body.rfind(b"\n", 0, cut)
        if cut < 0:
            first = -1 if whole else body.find(b"\n")
            return data[first + 1 :]
    return data[cut + 1 :]


def read_tail(path: Path, lines: int, limit: int = MAX_READ) -> tuple[bytes, int, int]:
    """The last `lines` lines of `path`, at most `limit` bytes of them, read backwards from
    its end (the file is never read whole): (text, offset it starts at, end offset)."""
    try:
        with open(path, "rb") as fh:
            end = fh.seek(0, 2)
            start, data = end, b""
            while start > 0 and len(data) < limit and data.count(b"\n") <= lines:
                step = min(BLOCK, start)
                start -= step
                fh.seek(start)
                data = fh.read(step) + data
    except FileNotFoundError:
        return b"", 0, 0
    return _bounded(data, start, end, lines, limit)


def tail_of(data: bytes, lines: int, limit: int = MAX_READ) -> tuple[bytes, int, int]:
    """`read_tail` of a log held in memory (a committed copy)."""
    return _bounded(data, 0, len(data), lines, limit)


def _bounded(data: bytes, start: int, end: int, lines: int, limit: int) -> tuple[bytes, int, int]:
    text = last_lines(data, lines, whole=start == 0)
    if len(text) > limit:  # very long lines: the last `limit` bytes, from a line start
        cut = len(text) - limit
        if text[cut - 1 : cut] != b"\n":
            line_end = text.find(b"\n", cut)
            cut = line_end + 1 if 0 <= line_end < len(text) - 1 else cut
        text = text[cut:]
    return text, end - len(text), end
