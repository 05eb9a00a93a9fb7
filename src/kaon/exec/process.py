"""ProcessRunner: run one command as a local subprocess, optionally inside bubblewrap (the
local executor's tasks and the environment builder's uv runs both go through it).

Every run goes through a small supervisor (kaon.exec.supervisor): it dies with the server
(parent-death signal), is the subreaper of everything the run starts (setsid() or a double
fork does not leave the tree), and kills that whole tree - SIGTERM, SIGKILL after a grace
period - when the user's process exits, on cancel and on timeout. Where the machine lets us
create control groups (kaon.exec.cgroups), each run also gets its own group: its memory
limit bounds all its processes together, and whatever is left in it once the supervisor has
exited is killed too. Without one, `memory_bytes` limits each process (RLIMIT_AS) and the
run's log says so. stdout and stderr share one pipe, read by a thread that hands each line
to the log sink as it comes.

Where a working `bwrap` exists, every run with `RunSpec.hidden` or `RunSpec.sandbox` goes
inside bubblewrap (kaon.exec.sandbox): the filesystem is read-only except `RunSpec.writable`
(give it a writable TMPDIR there); each `hidden` folder (the platform's home, store and
database) is an empty tmpfs with only the run's own `read_only` and `writable` paths bound
back; /tmp is private; the process has its own pid namespace and no capabilities.
`RunSpec.sandbox` also takes the network away (the S3 gateway on loopback too).
`RunSpec.mounts` (a pipeline datum's /pfs) are bound at their own paths; a run with mounts
always goes inside bubblewrap (the executor checks `can_mount` first) and, to keep a datum
cheap, without the supervisor: bubblewrap's pid namespace ends the whole tree with the
command and `--die-with-parent` ties it to the server (`sandbox.launcher`); it gets a control
group only for a memory limit. `RunSpec.stdin` is
written to the process' stdin, then closed.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from kaon.core.errors import InvalidInput
from kaon.core.units import memory_text
from kaon.exec import supervisor
from kaon.exec.cgroups import Cgroup, CgroupRoot, find_cgroups
from kaon.exec.reaper import REAPER
from kaon.exec.sandbox import Mount, bwrap_argv, bwrap_mounts_work, bwrap_works, launcher
from kaon.ports.envbuilder import LogSink
from kaon.ports.executor import RunResult

GRACE_SECONDS = 3.0  # between SIGTERM and SIGKILL
POLL_SECONDS = 0.05  # how often cancel and the timeout are checked
MAX_LINE = 1 << 16  # longer lines reach the log in pieces of this many bytes
PIPE_HOLDS = 1 << 15  # stdin this short is written at once (a pipe holds 64 KiB)
EXIT_NOT_FOUND = 127  # the shell's codes for "command not found" ...
EXIT_CANNOT_EXECUTE = 126  # ... and "found but cannot be executed"
NO_SANDBOX = "sandbox requested but bubblewrap is not available: running without it"
NO_HIDING = (
    "bubblewrap is not available: this run is not isolated and can read the platform's files"
)
NO_GROUP = "processes left at the end are found by walking the process tree"
log = logging.getLogger("kaon.exec")


@dataclass
class Launched:
    """A process `ProcessRunner.launch` started."""

    proc: subprocess.Popen[bytes]
    spec: RunSpec
    group: Cgroup | None
    start: float  # time.monotonic() at launch
    _pidfd: int | None = None

    def ended(self, timeout: float) -> bool:
        """Whether the process has exited, waiting up to `timeout` seconds (woken at its exit:
        a pidfd where the kernel has them)."""
        if self.proc.poll() is not None:
            self.close()
            return True
        if self._pidfd is None:
            try:
                self._pidfd = os.pidfd_open(self.proc.pid)
            except (AttributeError, OSError):
                self._pidfd = -1
        if self._pidfd >= 0:
            select.select([self._pidfd], [], [], timeout)
            done = self.proc.poll() is not None
        else:
            try:
                self.proc.wait(timeout=timeout)
                done = True
            except subprocess.TimeoutExpired:
                done = False
        if done:
            self.close()
        return done

    def close(self) -> None:
        if self._pidfd is not None and self._pidfd >= 0:
            os.close(self._pidfd)
        self._pidfd = -1


@dataclass(frozen=True)
class RunSpec:
    """One command on this machine, with local paths (the executor port's Task resolved)."""

    argv: tuple[str, ...]
    cwd: Path
    env: dict[str, str]  # the complete environment of the process (nothing is inherited)
    timeout: float | None = None  # seconds; the process group is killed past it
    read_only: tuple[Path, ...] = ()  # inputs the process must not change (sandbox)
    writable: tuple[Path, ...] = ()  # the only places a sandboxed process may write
    sandbox: bool = False  # also cut the network (the strict mode, `--sandbox`)
    hidden: tuple[Path, ...] = ()  # folders the process must not see at all (the platform's
    # home), except the `read_only` and `writable` paths inside them
    memory_bytes: int | None = None  # for all the run's processes where the machine can
    # (a cgroup), else for each of them (RLIMIT_AS): see ProcessRunner.describe_memory
    memory_default: bool = False  # memory_bytes is the platform's default, not the job's:
    # applied only where it bounds the run as a whole, never per process
    labels: dict[str, str] = field(default_factory=dict)  # job id, trial, for the logs
    mounts: tuple[Mount, ...] = ()  # host folders bound at other paths (needs bubblewrap)
    stdin: bytes | None = None  # written to the process' stdin, then closed (None: /dev/null)
    pass_fds: tuple[int, ...] = ()  # descriptors the process inherits (a batch's socket)


class ProcessRunner:
    """Runs local subprocesses. Holds no per-run state: one instance serves many threads."""

    def __init__(
        self,
        bwrap: str | None = None,
        grace: float = GRACE_SECONDS,
        cgroups: CgroupRoot | bool | None = True,
    ) -> None:
        self._bwrap = bwrap if bwrap is not None else shutil.which("bwrap")
        self._grace = grace
        # True: find them; False or None: never use them (a per-process limit, a tree sweep)
        self._cgroups = find_cgroups() if cgroups is True else cgroups or None
        if self._cgroups is not None:
            for path in self._cgroups.sweep_stale():
                log.warning("removed the control group %s of a server no longer running", path)

    @property
    def can_sandbox(self) -> bool:
        return self._bwrap is not None and bwrap_works(self._bwrap)

    @property
    def can_mount(self) -> bool:
        """Whether `RunSpec.mounts` can be honoured (bubblewrap binds new paths here)."""
        return self._bwrap is not None and bwrap_mounts_work(self._bwrap)

    @property
    def limits_run_memory(self) -> bool:
        return self._cgroups is not None and self._cgroups.limits_memory

    def run(self, spec: RunSpec, log: LogSink, cancel: threading.Event) -> RunResult:
        started = self.launch(spec, log)
        if isinstance(started, RunResult):
            return started
        proc = started.proc
        assert proc.stdout is not None
        reader = threading.Thread(
            target=_pump, args=(proc.stdout, log), name=f"log-{proc.pid}", daemon=True
        )
        reader.start()
        try:
            return self._wait(started, reader, log, cancel)
        finally:
            self.release(started, log)

    def launch(self, spec: RunSpec, log: LogSink) -> Launched | RunResult:
        """Start `spec` (stdout and stderr on one pipe, `proc.stdout`); the result at once when
        it cannot start. The caller waits for it, stops it, then calls `release`."""
        if not spec.argv:
            raise InvalidInput("nothing to run: the command line is empty")
        if not spec.cwd.is_dir():
            raise InvalidInput(f"cannot run {spec.argv[0]}: no directory {spec.cwd}")
        start = time.monotonic()
        argv = list(spec.argv)
        # a missing program would be reported by the supervisor or bwrap: check it first
        problem = _unrunnable(spec)
        if problem is not None:
            log(f"cannot run {spec.argv[0]}: {problem[1]}")
            return RunResult(problem[0], False, False, time.monotonic() - start)
        if spec.mounts and not self.can_mount:
            raise InvalidInput(f"cannot run {spec.argv[0]}: bubblewrap cannot mount here")
        if (spec.sandbox or spec.hidden) and not self.can_sandbox:
            log(NO_SANDBOX if spec.sandbox else NO_HIDING)
        elif spec.sandbox or spec.hidden or spec.mounts:
            argv = self._sandboxed(spec)
        group = self._group(spec, log)
        bounded = group is not None and group.limits_memory
        if spec.memory_bytes is not None:
            note = self._memory_note(
                spec.memory_bytes, bounded, spec.memory_default, _kind(spec)[0]
            )
            log(f"memory limit {note}")
        per_process = not bounded and not spec.memory_default
        cgroup = str(group.path) if group is not None else ""
        rlimit = spec.memory_bytes or 0 if per_process else 0
        if spec.mounts:  # bubblewrap's pid namespace is the tree: no supervisor needed
            line = launcher(argv, cgroup, rlimit)
        else:
            line = supervisor.command(argv, spec.env, self._grace, cgroup=cgroup, rlimit_as=rlimit)
        try:
            proc = subprocess.Popen(
                line,
                cwd=spec.cwd,
                env=spec.env,
                stdin=subprocess.DEVNULL if spec.stdin is None else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=spec.pass_fds,
            )
        except OSError as exc:
            if group is not None:
                group.remove()
            code = EXIT_NOT_FOUND if exc.errno == errno.ENOENT else EXIT_CANNOT_EXECUTE
            log(f"cannot run {spec.argv[0]}: {exc.strerror or exc}")
            return RunResult(code, False, False, time.monotonic() - start)
        if spec.stdin is not None:
            _feed(proc, spec.stdin)
        return Launched(proc, spec, group, start)

    def release(self, started: Launched, log: LogSink) -> None:
        """After the process ended: kill what is left of it, drop its control group."""
        _signal_group(started.proc.pid, signal.SIGKILL)
        if started.group is not None:
            self._release(started.group, started.spec, log)

    def describe_memory(self, limit: int | None, default: bool = False) -> str:
        """How `limit` bytes are enforced here, for the job's record."""
        if limit is None:
            return "none"
        return self._memory_note(limit, self.limits_run_memory, default)

    @staticmethod
    def _memory_note(limit: int, bounded: bool, default: bool = False, kind: str = "trial") -> str:
        if bounded:
            whose = "; the platform's default, KAON_JOB_MEMORY" if default else ""
            return f"{memory_text(limit)} for the {kind}'s processes together (cgroup{whose})"
        if default:
            return (
                "none: the platform's default memory limit (KAON_JOB_MEMORY) is not applied: "
                "no writable cgroup with the memory controller here, and a limit on each "
                "process would break runtimes that reserve address space; give --memory for one"
            )
        return (
            f"{memory_text(limit)} for each process (RLIMIT_AS): no writable cgroup with "
            f"the memory controller here, so a {kind}'s processes together may use more"
        )

    def _group(self, spec: RunSpec, log: LogSink) -> Cgroup | None:
        # a run in bubblewrap's pid namespace needs a group only for its memory: a process in
        # a fresh memory cgroup (v1) starts 10-20 ms slower, a lot for a pipeline datum
        if self._cgroups is None or (spec.mounts and spec.memory_bytes is None):
            return None
        try:
            return self._cgroups.create(spec.memory_bytes)
        except OSError as exc:
            log(f"no control group for this run ({exc.strerror or exc}): {NO_GROUP}")
            return None

    def _release(self, group: Cgroup, spec: RunSpec, log: LogSink) -> None:
        """Kill what escaped the supervisor, say if the memory limit was hit, remove. A run in
        bubblewrap's pid namespace (`mounts`) left nothing alive (its processes are dying
        already): the group is emptied and removed in the background."""
        if spec.memory_bytes is not None and group.oom_killed():
            kind, raise_it = _kind(spec)
            log(
                f"the {kind} went over its memory limit ({memory_text(spec.memory_bytes)}): "
                f"the kernel killed a process of it; raise the limit with {raise_it}"
            )
        if spec.mounts:
            REAPER.later(lambda: group.kill() and group.remove())
            return
        if not group.kill():
            log("some processes of the run could not be killed")
        REAPER.later(group.remove)  # a process just killed may take a moment to leave it

    def _wait(
        self, started: Launched, reader: threading.Thread, log: LogSink, cancel: threading.Event
    ) -> RunResult:
        proc, spec, start = started.proc, started.spec, started.start
        deadline = None if spec.timeout is None else start + spec.timeout
        cancelled = timed_out = False
        while True:
            if started.ended(POLL_SECONDS):
                break
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
            self.stop(proc)
        _signal_group(proc.pid, signal.SIGKILL)  # nothing should be left: the supervisor swept
        # A process that escaped the tree may still hold the pipe: do not wait for it.
        reader.join(self._grace)
        exit_code = None if cancelled or timed_out else proc.returncode
        return RunResult(exit_code, timed_out, cancelled, time.monotonic() - start)

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM to the supervisor (it gives the tree the grace period), then hurry it, then
        SIGKILL the whole group."""
        for sig, wait in ((signal.SIGTERM, self._grace + 2), (signal.SIGUSR1, 2.0)):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=wait)
                return
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()

    def _sandboxed(self, spec: RunSpec) -> list[str]:
        assert self._bwrap is not None
        return bwrap_argv(
            self._bwrap,
            spec.argv,
            spec.cwd,
            hidden=spec.hidden,
            read_only=spec.read_only,
            writable=spec.writable,
            network=not spec.sandbox,
            mounts=spec.mounts,
        )


def _feed(proc: subprocess.Popen[bytes], data: bytes) -> None:
    """Write `data` to the process' stdin and close it: at once when the pipe holds it, else
    from a thread (the process may print before it reads)."""
    assert proc.stdin is not None
    stream = proc.stdin

    def write() -> None:
        with contextlib.suppress(BrokenPipeError, OSError), stream:
            stream.write(data)

    if len(data) <= PIPE_HOLDS:
        write()
    else:
        threading.Thread(target=write, name=f"stdin-{proc.pid}", daemon=True).start()


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


def _kind(spec: RunSpec) -> tuple[str, str]:
    """What the run is, in words (a pipeline's datum or a job's trial), and how its memory
    limit is raised."""
    if "datum" in spec.labels:
        return "datum", "resource_limits.memory in the pipeline's spec"
    return "trial", "--memory"


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send `sig` to process group `pgid`; False if the group is gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # only zombies left, or the pid was reused by someone else's group
        return False
    return True


def _host_path(path: str, mounts: tuple[Mount, ...]) -> str:
    """Where `path`, as the process sees it, is on this machine."""
    for mount in mounts:
        if path == mount.target or path.startswith(mount.target + "/"):
            return str(mount.source) + path[len(mount.target) :]
    return path


def _unrunnable(spec: RunSpec) -> tuple[int, str] | None:
    """(exit code, reason) when argv[0] is missing or not executable, as seen from the host."""
    program = _host_path(spec.argv[0], spec.mounts)
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
