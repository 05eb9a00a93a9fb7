"""LocalExecutor: run a job as a local subprocess, optionally inside bubblewrap.

The process starts in a new session (its own process group), so stopping it - on cancel, on
timeout, or when it exits and leaves children behind - signals the whole group: SIGTERM first,
SIGKILL after a grace period. stdout and stderr share one pipe, read by a thread that hands each
line to the log sink as it comes.

With `RunSpec.sandbox` and a working `bwrap`, the process sees the whole filesystem read-only
except `RunSpec.writable` (give it a writable TMPDIR there), has no network, no capabilities,
its own pid namespace, and dies with its parent. /tmp stays visible (read-only): a private
tmpfs there would hide interpreters and environments that live under /tmp.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import resource
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO

from kaon.core.errors import InvalidInput
from kaon.ports.envbuilder import LogSink
from kaon.ports.executor import RunResult, RunSpec

GRACE_SECONDS = 3.0  # between SIGTERM and SIGKILL
POLL_SECONDS = 0.05  # how often cancel and the timeout are checked
MAX_LINE = 1 << 16  # longer lines reach the log in pieces of this many bytes
EXIT_NOT_FOUND = 127  # the shell's codes for "command not found" ...
EXIT_CANNOT_EXECUTE = 126  # ... and "found but cannot be executed"
NO_SANDBOX = "sandbox requested but bubblewrap is not available: running without it"


@functools.cache
def bwrap_works(bwrap: str) -> bool:
    """Whether `bwrap` can build a sandbox here (user namespaces may be disabled). Probed once
    per path."""
    probe = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-net"]
    try:
        done = subprocess.run(
            [*probe, "true"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


class LocalExecutor:
    """Executor over local subprocesses. Holds no per-run state: one instance serves many
    threads."""

    def __init__(self, bwrap: str | None = None, grace: float = GRACE_SECONDS) -> None:
        self._bwrap = bwrap if bwrap is not None else shutil.which("bwrap")
        self._grace = grace

    @property
    def can_sandbox(self) -> bool:
        return self._bwrap is not None and bwrap_works(self._bwrap)

    def run(self, spec: RunSpec, log: LogSink, cancel: threading.Event) -> RunResult:
        if not spec.argv:
            raise InvalidInput("nothing to run: the command line is empty")
        if not spec.cwd.is_dir():
            raise InvalidInput(f"cannot run {spec.argv[0]}: no directory {spec.cwd}")
        start = time.monotonic()
        argv = list(spec.argv)
        if spec.sandbox and not self.can_sandbox:
            log(NO_SANDBOX)
        elif spec.sandbox:
            # bwrap would report a missing program as its own failure (exit 1): check first.
            problem = _unrunnable(spec)
            if problem is not None:
                log(f"cannot run {spec.argv[0]}: {problem[1]}")
                return RunResult(problem[0], False, False, time.monotonic() - start)
            argv = self._sandboxed(spec)
        try:
            proc = subprocess.Popen(
                argv,
                cwd=spec.cwd,
                env=spec.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_memory_limit(spec.memory_bytes),
            )
        except OSError as exc:
            code = EXIT_NOT_FOUND if exc.errno == errno.ENOENT else EXIT_CANNOT_EXECUTE
            log(f"cannot run {spec.argv[0]}: {exc.strerror or exc}")
            return RunResult(code, False, False, time.monotonic() - start)
        assert proc.stdout is not None
        reader = threading.Thread(
            target=_pump, args=(proc.stdout, log), name=f"log-{proc.pid}", daemon=True
        )
        reader.start()
        return self._wait(proc, reader, spec, log, cancel, start)

    def _wait(
        self,
        proc: subprocess.Popen[bytes],
        reader: threading.Thread,
        spec: RunSpec,
        log: LogSink,
        cancel: threading.Event,
        start: float,
    ) -> RunResult:
        deadline = None if spec.timeout is None else start + spec.timeout
        cancelled = timed_out = False
        while True:
            try:
                proc.wait(timeout=POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                pass
            if cancel.is_set():
                cancelled = True
                break
            if deadline is not None and time.monotonic() >= deadline:
                timed_out = True
                break
        if cancelled or timed_out:
            reader.join(POLL_SECONDS)  # let the lines printed so far reach the log first
            why = "cancelled" if cancelled else f"timed out after {spec.timeout:g} s"
            log(f"{why}: stopping the process and its children")
            _signal_group(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=self._grace)
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        elif _signal_group(proc.pid, signal.SIGTERM):
            reader.join(self._grace)  # children left behind: give them the grace period
            _signal_group(proc.pid, signal.SIGKILL)
        # A child that left the process group may still hold the pipe: do not wait for it.
        reader.join(self._grace)
        exit_code = None if cancelled or timed_out else proc.returncode
        return RunResult(exit_code, timed_out, cancelled, time.monotonic() - start)

    def _sandboxed(self, spec: RunSpec) -> list[str]:
        assert self._bwrap is not None
        argv = [self._bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        for path in spec.writable:
            argv += ["--bind", str(path), str(path)]
        for path in spec.read_only:  # after writable: an input inside an output stays read-only
            argv += ["--ro-bind", str(path), str(path)]
        argv += ["--unshare-net", "--unshare-pid", "--die-with-parent"]
        argv += ["--cap-drop", "ALL", "--chdir", str(spec.cwd), "--", *spec.argv]
        return argv


def _pump(stream: IO[bytes], log: LogSink) -> None:
    """Send each line of `stream` to `log` until end of file (a final partial line too)."""
    with stream:
        try:
            for raw in iter(lambda: stream.readline(MAX_LINE), b""):
                line = raw.removesuffix(b"\n").removesuffix(b"\r")
                log(line.decode("utf-8", errors="replace"))
        finally:  # if `log` failed, keep draining so the process never blocks on a full pipe
            while stream.read(MAX_LINE):
                pass


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send `sig` to process group `pgid`; False if the group is gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # only zombies left, or the pid was reused by someone else's group
        return False
    return True


def _memory_limit(limit: int | None) -> Callable[[], None] | None:
    """A preexec_fn capping the address space at `limit` bytes (never above the hard limit)."""
    if limit is None:
        return None
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = limit if hard == resource.RLIM_INFINITY else min(limit, hard)

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    return apply


def _unrunnable(spec: RunSpec) -> tuple[int, str] | None:
    """(exit code, reason) when argv[0] is missing or not executable, as seen from the host."""
    program = spec.argv[0]
    if "/" in program:
        candidates = [spec.cwd / program]
    else:
        path = spec.env.get("PATH", os.defpath)
        candidates = [spec.cwd / (d or ".") / program for d in path.split(os.pathsep)]
    found = [c for c in candidates if c.is_file()]
    if not found:
        return EXIT_NOT_FOUND, os.strerror(errno.ENOENT)
    if not any(os.access(c, os.X_OK) for c in found):
        return EXIT_CANNOT_EXECUTE, os.strerror(errno.EACCES)
    return None
