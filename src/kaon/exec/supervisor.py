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
  limits the address space of each process of the run (where no cgroup bounds the memory).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import sys
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
EXIT_NOT_FOUND = 127
EXIT_CANNOT_EXECUTE = 126
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1)
HERE = str(Path(__file__).resolve())


class Stop(Exception):
    """A stop signal arrived: end the run (SIGUSR1: at once, no grace period)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.now = signum == signal.SIGUSR1


def command(
    argv: list[str], env: dict[str, str], grace: float, cgroup: str = "", rlimit_as: int = 0
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
    return [*line, "--", *argv]


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option})")


def descendants(root: int) -> list[int]:
    """Live (not zombie) processes below `root`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        name = entry.name
        if not name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
        except OSError:
            continue
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
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


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
    argv = args[1:]
    for sig in STOP_SIGNALS:
        signal.signal(sig, _stop)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if parent and os.getppid() != parent:  # the server died before the line above
        sys.exit(EXIT_CANNOT_EXECUTE)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    if cgroup:
        (Path(cgroup) / "cgroup.procs").write_text(str(os.getpid()))

    def limit() -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        if rlimit:
            resource.setrlimit(resource.RLIMIT_AS, (rlimit, rlimit))

    status = 0
    try:
        try:
            import subprocess  # only now: a failed prctl exits sooner

            child = subprocess.Popen(argv, preexec_fn=limit)
        except OSError as exc:
            print(f"cannot run {argv[0]}: {exc.strerror or exc}", flush=True)
            sys.exit(EXIT_NOT_FOUND if isinstance(exc, FileNotFoundError) else EXIT_CANNOT_EXECUTE)
        while True:
            pid, status = os.waitpid(-1, 0)  # reaps orphans re-parented to us meanwhile
            if pid == child.pid:
                child.returncode = 0  # reaped here: keep Popen from waiting for it again
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
