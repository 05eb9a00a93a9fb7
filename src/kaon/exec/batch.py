"""Datum batching on the local executor (`Executor.run_batch`): one long-lived process for many
datums of a pipeline job.

The process gets a socket (descriptor in $KAON_DATUM_FD, a socketpair: no path, so it works
inside bubblewrap with or without the network) and `kaon-next-datum` on PATH. Its requests
("next", or "next-sh" from the shell command) are served by one loop here that also reads its
output and watches its exit (a pidfd): on a request, the output already written is first
handed to the current datum's log (the helper flushes before it asks), the current datum is
delivered as a success, the next one's views are put in place, and its variables sent back.
/pfs/<name> and /pfs/out are the same folders for the whole batch (bound once by bubblewrap),
emptied and refilled between datums. A process that dies fails its current datum; the rest go
to a new process. One that exits without asking for any datum fails all those left (its code
cannot ask: nothing else would make progress).
"""

from __future__ import annotations

import json
import os
import select
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from kaon.core.errors import InvalidInput, KaonError
from kaon.exec.inputs import remove_tree
from kaon.exec.pfs import PfsLayout, build_view, normalise_links
from kaon.exec.process import MAX_LINE, ProcessRunner, RunSpec
from kaon.ports.content import TreeRef
from kaon.ports.envbuilder import LogSink
from kaon.ports.executor import BatchDatum, DatumFeed, RunResult

FD_VARIABLE = "KAON_DATUM_FD"  # kaon.runtime.datums reads it
POLL_MS = 50  # how often cancel and the datum's timeout are checked
NEXT_DATUM = """#!/bin/sh
# kaon-next-datum: report the datum done, wait for the next one (see kaon.runtime.datums);
# prints its variables as export lines; fails when there is none left. Python, not sh: the
# socket's descriptor may be above 9, which dash cannot name.
exec {python} -I -S -c '
import os, sys
fd = os.environ.get("KAON_DATUM_FD")
if not fd:
    sys.exit("kaon-next-datum: not in a batching pipeline (transform.datum_batching: true)")
os.write(int(fd), b"next-sh\\n")
reply = b""
while not reply.endswith(b"\\n"):
    chunk = os.read(int(fd), 4096)
    if not chunk:
        sys.exit("kaon-next-datum: the platform closed the connection")
    reply += chunk
if reply == b"done\\n":
    sys.exit(1)
sys.stdout.buffer.write(reply)
'
"""
NEVER_ASKED = (
    "the process exited without asking for a datum: call kaon.runtime.datums.next_datum() "
    "(Python) or kaon-next-datum (shell) in a datum_batching transform"
)


class Views:
    """A batch's /pfs folders, refilled for each datum from the job's fetched copies."""

    def __init__(
        self,
        layout: PfsLayout,
        fetched: dict[str, Path],
        trees: dict[str, TreeRef],
        fetch: Callable[[TreeRef, Path], Path],
    ) -> None:
        self.layout = layout
        self._fetched = {trees[name]: path for name, path in fetched.items()}
        self._fetch = fetch  # (tree, fallback folder) → its read-only copy
        self._names = [n for n in layout.inputs if n not in layout.writable]

    def fill(self, datum: BatchDatum) -> None:
        unknown = sorted(set(datum.inputs) - set(self._names))
        if unknown:
            raise InvalidInput(f"datum {datum.key}: {unknown[0]!r} is not an input of the task")
        for name in self._names:
            folder = self.layout.inputs[name]
            _empty(folder)
            given = datum.inputs.get(name)
            if given is None:
                continue
            source = self._fetched.get(given.tree)
            if source is None:
                dest = self.layout.root.parent / "inputs" / f"{name}-{len(self._fetched)}"
                source = self._fetched[given.tree] = self._fetch(given.tree, dest)
            build_view(source, folder, given.select, given.empty_files)
            self.layout.sources[name] = source
        _empty(self.layout.out)


class Batch:
    """One `run_batch` call: processes started one after the other until the feed is empty."""

    def __init__(
        self,
        runner: ProcessRunner,
        spec: RunSpec,
        views: Views,
        feed: DatumFeed,
        log: LogSink,
        cancel: threading.Event,
    ) -> None:
        self._runner = runner
        self._spec = spec
        self._views = views
        self._feed = feed
        self._log = log
        self._cancel = cancel
        self._current: BatchDatum | None = None
        self._since = 0.0  # when the current datum was handed out
        self._pending: BatchDatum | None = None
        self._exhausted = False
        self._partial = b""  # output not ended by a newline yet
        bin_dir = views.layout.root.parent / "bin"
        bin_dir.mkdir(exist_ok=True)
        helper = bin_dir / "kaon-next-datum"
        helper.write_text(NEXT_DATUM.format(python=shlex.quote(sys.executable)))
        helper.chmod(0o755)
        self._path = f"{bin_dir}:{spec.env.get('PATH', '')}"

    def run(self) -> RunResult:
        start = time.monotonic()
        self._pending = self._feed.next_datum()
        if self._pending is None:
            return RunResult(0, False, False, 0.0)
        result = RunResult(0, False, False, 0.0)
        while not self._cancel.is_set() and not self._exhausted:
            result, asked = self._process()
            if result.cancelled:
                break
            if not asked and not self._exhausted:
                self._fail_rest(result)
                break
        return RunResult(
            result.exit_code, result.timed_out, self._cancel.is_set(), time.monotonic() - start
        )

    # -- one process ------------------------------------------------------------------------

    def _process(self) -> tuple[RunResult, bool]:
        ours, theirs = socket.socketpair()
        with ours, theirs:
            env = self._spec.env | {FD_VARIABLE: str(theirs.fileno()), "PATH": self._path}
            spec = replace(self._spec, env=env, pass_fds=(theirs.fileno(),), timeout=None)
            started = self._runner.launch(spec, self._line)
            theirs.close()  # the process holds the other end now
            if isinstance(started, RunResult):
                return started, False
            try:
                return self._serve(started.proc, ours)
            finally:
                if started.proc.poll() is None:  # an error here: the process must not stay
                    self._runner.stop(started.proc)
                self._runner.release(started, self._line)

    def _serve(self, proc: subprocess.Popen[bytes], ours: socket.socket) -> tuple[RunResult, bool]:
        assert proc.stdout is not None
        out = proc.stdout.fileno()
        os.set_blocking(out, False)
        ours.setblocking(False)
        poller = select.poll()
        poller.register(out, select.POLLIN)
        poller.register(ours.fileno(), select.POLLIN)
        pidfd = _pidfd(proc.pid)
        if pidfd is not None:
            poller.register(pidfd, select.POLLIN)
        asked, requests, stopped = False, b"", ""
        try:
            while proc.poll() is None:
                for fd, _ in poller.poll(POLL_MS):
                    if fd == out and not self._read(out):
                        poller.unregister(out)
                    elif fd == ours.fileno():
                        data = _recv(ours)
                        if data is None:
                            continue
                        if not data:
                            poller.unregister(fd)
                        requests += data
                        while b"\n" in requests:
                            line, requests = requests.split(b"\n", 1)
                            self._read(out)  # what it printed before asking is that datum's
                            self._answer(line.decode(errors="replace").strip(), ours)
                            asked = True
                stopped = self._should_stop()
                if stopped:
                    self._line(f"{stopped}: stopping the process and its children")
                    self._runner.stop(proc)
                    break
        finally:
            if pidfd is not None:
                os.close(pidfd)
        proc.wait()
        self._drain(out)
        proc.stdout.close()
        code = None if stopped else proc.returncode
        result = RunResult(code, stopped.startswith("timed out"), stopped == "cancelled", 0.0)
        if self._current is not None:
            self._finish(replace(result, seconds=time.monotonic() - self._since))
        return result, asked

    def _should_stop(self) -> str:
        if self._cancel.is_set():
            return "cancelled"
        limit = self._spec.timeout
        late = limit is not None and time.monotonic() - self._since >= limit
        if self._current is not None and late:
            return f"timed out after {limit:g} s"
        return ""

    def _answer(self, request: str, ours: socket.socket) -> None:
        if self._current is not None:
            self._finish(RunResult(0, False, False, time.monotonic() - self._since))
        datum = self._next_laid_out()
        if datum is None:
            reply = "done" if request == "next-sh" else json.dumps({"done": True})
        else:
            env = {k: self._views.layout.rewrite(v) for k, v in datum.env.items()}
            if request == "next-sh":
                reply = "; ".join(f"export {k}={shlex.quote(v)}" for k, v in env.items())
                reply = reply.replace("\n", " ")  # one line: a variable's newlines are lost
            else:
                reply = json.dumps({"env": env})
        ours.setblocking(True)
        try:
            ours.sendall(reply.encode() + b"\n")
        except OSError:
            pass  # it died meanwhile: its exit says what happened
        finally:
            ours.setblocking(False)

    def _next_laid_out(self) -> BatchDatum | None:
        """The next datum, current, its views in place; one whose views cannot be made (an
        input gone) fails without reaching the process."""
        while (datum := self._take()) is not None:
            self._current, self._since = datum, time.monotonic()
            try:
                self._views.fill(datum)
            except (KaonError, OSError) as exc:
                self._line(f"cannot lay out /pfs for datum {datum.key}: {exc}")
                self._finish(RunResult(1, False, False, 0.0))
                continue
            return datum
        return None

    def _take(self) -> BatchDatum | None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            return pending
        if self._exhausted or self._cancel.is_set():
            return None
        datum = self._feed.next_datum()
        self._exhausted = datum is None
        return datum

    def _finish(self, result: RunResult) -> None:
        datum, self._current = self._current, None
        assert datum is not None
        self._flush_partial(datum)
        normalise_links(self._views.layout)
        datum.outputs.deliver(self._views.layout.out, result)
        self._feed.finished(datum, result)

    def _fail_rest(self, result: RunResult) -> None:
        while self._next_laid_out() is not None:
            self._line(NEVER_ASKED)
            self._finish(replace(result, exit_code=result.exit_code or 1, seconds=0.0))

    # -- output -----------------------------------------------------------------------------

    def _line(self, text: str) -> None:
        datum = self._current
        (datum.log if datum is not None and datum.log is not None else self._log)(text)

    def _read(self, fd: int) -> bool:
        """Hand the lines waiting in the pipe to the log; False at its end."""
        while True:
            try:
                data = os.read(fd, MAX_LINE)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not data:
                return False
            lines = (self._partial + data).split(b"\n")
            self._partial = lines.pop()
            for raw in lines:
                self._line(raw.removesuffix(b"\r").decode("utf-8", errors="replace"))
            if len(self._partial) >= MAX_LINE:
                self._line(self._partial.decode("utf-8", errors="replace"))
                self._partial = b""

    def _drain(self, fd: int) -> None:
        """The output left once the process exited (nothing else holds the pipe: bubblewrap's
        pid namespace or the supervisor ended the tree)."""
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            ready = select.select([fd], [], [], 0.1)[0]
            if ready and not self._read(fd):
                break
        self._flush_partial(self._current)

    def _flush_partial(self, datum: BatchDatum | None) -> None:
        if self._partial:
            text = self._partial.decode("utf-8", errors="replace")
            self._partial = b""
            (datum.log if datum is not None and datum.log is not None else self._log)(text)


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _recv(sock: socket.socket) -> bytes | None:
    try:
        return sock.recv(4096)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def _empty(folder: Path) -> None:
    """Remove what is in `folder`, keep the folder (a mount point)."""
    with os.scandir(folder) as entries:
        for entry in list(entries):
            if entry.is_dir(follow_symlinks=False):
                try:
                    shutil.rmtree(entry.path)
                except OSError:  # made read-only by the code
                    remove_tree(Path(entry.path))
            else:
                os.unlink(entry.path)  # noqa: PTH108 - per datum, on a DirEntry's path
