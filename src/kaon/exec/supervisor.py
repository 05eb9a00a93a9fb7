"""The supervisor of one run: `python -I -S supervisor.py --parent PID [...] -- argv...`.

Stdlib only, started by path (no kaon import, ~15 ms). It makes the run's lifetime that of
its job:

* it dies with the server: a parent-death signal (SIGTERM) set at once, checked against a
  parent that died before it was set (PR_SET_PDEATHSIG fires on the death of the parent
  *thread*: the executor starts it from the thread that waits for it);
* it is a subreaper (PR_SET_CHILD_SUBREAPER): a process of the run that double-forks or
  calls setsid() is re-parented to it, not to init, so no process can leave the tree;
* when the user's process exits, or on SIGTERM/SIGINT/SIGHUP, every process still in the
  tree gets SIGTERM, then SIGKILL after the grace period, until none is left; then the
  supervisor exits as its child did (same code, same signal);
* `--cgroup DIR` puts it (and so the whole run) in that control group first; `--rlimit-as N`
  limits the address space of each process of the run (where no cgroup bounds the memory);
  `--cpus 0,1` runs it (everything it starts inherits it) on those CPUs only.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
EXIT_NOT_FOUND = 127
EXIT_CANNOT_EXECUTE = 126
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1)
HERE = os.path.realpath(__file__)  # os, not pathlib: importing it costs ~10 ms


class Stop(Exception):
    """A stop signal arrived: end the run (SIGUSR1: at once, no grace period)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.now = signum == signal.SIGUSR1


def command(
    argv: list[str],
    env: dict[str, str],
    grace: float,
    cgroup: str = "",
    rlimit_as: int = 0,
    cpus: tuple[int, ...] = (),
) -> list[str]:
    """The command line that runs `argv` with `env` under a supervisor whose parent is this
    process."""
    line = [sys.executable, "-I", "-S", HERE, "--parent", str(os.getpid()), "--grace", f"{grace}"]
    if "LC_CTYPE" not in env:  # Python's C-locale coercion (PEP 538) adds it: not for the child
        line += ["--unset", "LC_CTYPE"]
    if cgroup:
        line += ["--cgroup", cgroup]
    if rlimit_as:
        line += ["--rlimit-as", str(rlimit_as)]
    if cpus:
        line += ["--cpus", ",".join(map(str, cpus))]
    return [*line, "--", *argv]


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option})")


def descendants(root: int) -> list[int]:
    """Live (not zombie) processes below `root`, from /proc."""
    children: dict[int, list[int]] = {}
    with os.scandir("/proc") as entries:
        names = [e.name for e in entries if e.name.isdigit()]
    for name in names:
        try:
            fd = os.open(f"/proc/{name}/stat", os.O_RDONLY)
        except OSError:
            continue
        try:
            stat = os.read(fd, 4096)
        except OSError:
            continue
        finally:
            os.close(fd)
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) < 2 or fields[0] == b"Z":
            continue
        children.setdefault(int(fields[1]), []).append(int(name))
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _reap() -> None:
    """Reap every child that has exited, without waiting."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        _kill(pid, sig)


_hurry = False  # SIGUSR1 during the sweep: the grace period ends now


def _hurry_up(signum: int, frame: object) -> None:
    global _hurry
    _hurry = True


def sweep(grace: float) -> None:
    """SIGTERM what is left below us, SIGKILL it after `grace` seconds, until none is left."""
    me = os.getpid()
    left = descendants(me)
    if left:
        _signal_all(left, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while left and time.monotonic() < deadline and not _hurry:
            time.sleep(0.02)
            _reap()
            left = descendants(me)
    while left:
        _signal_all(left, signal.SIGKILL)
        time.sleep(0.01)
        _reap()
        left = descendants(me)
    _reap()


def spawn(argv: list[str], rlimit_as: int) -> int:
    """fork + exec `argv` (searched on PATH), limited to `rlimit_as` bytes of address space
    when not 0; exits 127/126 with a message when it cannot be executed."""
    reader, writer = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # the child: only async-signal-safe work, then exec
        try:
            os.close(reader)
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
            if rlimit_as:
                resource.setrlimit(resource.RLIMIT_AS, (rlimit_as, rlimit_as))
            os.execvp(argv[0], argv)
        except OSError as exc:
            os.write(writer, str(exc.errno or 0).encode())
        finally:
            os._exit(EXIT_CANNOT_EXECUTE)
    os.close(writer)
    try:
        failed = os.read(reader, 64)
    finally:
        os.close(reader)
    if failed:
        os.waitpid(pid, 0)
        code = int(failed)
        print(f"cannot run {argv[0]}: {os.strerror(code)}", flush=True)
        sys.exit(EXIT_NOT_FOUND if code == errno.ENOENT else EXIT_CANNOT_EXECUTE)
    return pid


def _kill(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _stop(signum: int, frame: object) -> None:
    raise Stop(signum)


def _exit_like(status: int) -> None:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
        os.kill(os.getpid(), sig)
        time.sleep(1)  # a signal that does not kill (SIGCHLD...) ends below
    sys.exit(os.waitstatus_to_exitcode(status) if not os.WIFSIGNALED(status) else 128)


def main(args: list[str]) -> None:
    parent, cgroup, rlimit, grace = 0, "", 0, 3.0
    while args and args[0] != "--":
        flag, value, args = args[0], args[1], args[2:]
        if flag == "--parent":
            parent = int(value)
        elif flag == "--cgroup":
            cgroup = value
        elif flag == "--rlimit-as":
            rlimit = int(value)
        elif flag == "--grace":
            grace = float(value)
        elif flag == "--unset":
            os.environ.pop(value, None)
        elif flag == "--cpus":  # the run (all it starts) on those CPUs only
            os.sched_setaffinity(0, {int(c) for c in value.split(",")})
    argv = args[1:]
    for sig in STOP_SIGNALS:
        signal.signal(sig, _stop)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if parent and os.getppid() != parent:  # the server died before the line above
        sys.exit(EXIT_CANNOT_EXECUTE)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    if cgroup:
        fd = os.open(f"{cgroup}/cgroup.procs", os.O_WRONLY)
        try:
            os.write(fd, str(os.getpid()).encode())
        finally:
            os.close(fd)

    status = 0
    try:
        child = spawn(argv, rlimit)
        while True:
            pid, status = os.waitpid(-1, 0)  # reaps orphans re-parented to us meanwhile
            if pid == child:
                break
    except Stop as stop:
        status = signal.SIGTERM  # a wait status: killed by SIGTERM
        if stop.now:
            grace = 0.0
    finally:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        signal.signal(signal.SIGUSR1, _hurry_up)
        sweep(grace)
    _exit_like(status)


if __name__ == "__main__":
    main(sys.argv[1:])
