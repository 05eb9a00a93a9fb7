"""One replica process of LocalReplicas: its command line, environment and sandbox, its start
under the run supervisor, its output pumped to the endpoint's log, and how it is killed.

A replica is `<env python> -m kaon.runtime.replica` (see kaon.runtime.replica) started in its
own session, in the endpoint's environment, with PYTHONPATH pointing at a copy of the stdlib-only
`kaon.runtime` package (the environment does not contain kaon). Its output, stdout and stderr
merged, goes to the endpoint's log line by line, prefixed with `[replica <i>] `. It runs under
the run supervisor (kaon.exec.supervisor) and, where one can be made, in a control group of its
own; with `ReplicaSpec.hidden` and a working bubblewrap, in the training jobs' sandbox
(kaon.exec.sandbox, network kept): it sees its code, model, environment and run folder, none of
the platform's files.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from kaon.core.endpoints import unix_address
from kaon.exec import supervisor
from kaon.exec.cgroups import Cgroup, CgroupRoot
from kaon.exec.sandbox import bwrap_argv
from kaon.ports.envbuilder import LogSink
from kaon.ports.replicas import ReplicaSpec

MAX_LINE = 1 << 16


@dataclass
class Slot:
    """One replica position: the process currently filling it and its restart schedule."""

    index: int
    socket: str  # the path it listens on
    proc: subprocess.Popen[bytes] | None = None  # the supervisor of the replica
    pump: threading.Thread | None = None
    group: Cgroup | None = None
    started: float = 0.0
    ready: bool = False
    delay: float = 0.0  # before the next restart; 0 until the first exit
    next_start: float = 0.0

    @property
    def address(self) -> str:
        return unix_address(self.socket)


@dataclass(frozen=True)
class Site:
    """Where an endpoint's replicas run on this machine."""

    spec: ReplicaSpec
    workdir: Path  # the serve module's folder in the checked-out code (and model_dir)
    run_dir: Path  # HOME and TMPDIR of the replicas, their sockets when short enough
    sandboxed: bool  # in bubblewrap, hiding `spec.hidden`


class Launcher:
    """Starts replica processes (the same way for every endpoint of one LocalReplicas)."""

    def __init__(
        self, pythonpath: Path, grace: float, cgroups: CgroupRoot | None, bwrap: str | None
    ) -> None:
        self._pythonpath = pythonpath
        self._grace = grace
        self._cgroups = cgroups
        self._bwrap = bwrap  # for the sites that are sandboxed

    def spawn(self, site: Site, slot: Slot, log: LogSink) -> None:
        """Start the replica of `slot` (raises OSError when it cannot be started)."""
        spec = site.spec
        argv = [str(spec.env.python), "-m", "kaon.runtime.replica", "--socket", slot.socket]
        argv += ["--code", str(site.workdir), "--module", spec.module]
        argv += ["--model-dir", str(site.workdir)]  # its parent: the supervisor
        env = {
            "PATH": f"{spec.env.bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "VIRTUAL_ENV": str(spec.env.root),
            "HOME": str(site.run_dir / "home"),
            "TMPDIR": str(site.run_dir / "tmp"),  # /tmp is private and read-only
            "KAON_ENDPOINT": spec.name,
            "KAON_REPLICA": str(slot.index),
            "PYTHONPATH": str(self._pythonpath),
            "PYTHONUNBUFFERED": "1",
            "PYTHONHASHSEED": "0",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
        } | spec.variables
        if site.sandboxed:
            argv = self._sandboxed(site, slot, argv)
        remove(slot.socket)
        if self._cgroups is not None:
            with contextlib.suppress(OSError):  # none: the supervisor's tree sweep only
                slot.group = self._cgroups.create(None)
        line = supervisor.command(
            argv, env, self._grace, cgroup=str(slot.group.path) if slot.group else ""
        )
        try:
            proc = subprocess.Popen(
                line,
                cwd=site.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError:
            release(slot)
            raise
        assert proc.stdout is not None
        prefix = f"[replica {slot.index}] "
        pump = threading.Thread(
            target=_pump, args=(proc.stdout, log, prefix), daemon=True, name=f"log-{proc.pid}"
        )
        pump.start()
        slot.proc, slot.pump = proc, pump

    def _sandboxed(self, site: Site, slot: Slot, argv: list[str]) -> list[str]:
        """`argv` in bubblewrap: the replica sees its code and model, its environment (and the
        interpreter it links to), the runtime; it writes in its run folder and sockets only."""
        assert self._bwrap is not None
        env = site.spec.env
        interpreter = Path(os.path.realpath(env.python)).parents[1]
        sockets = Path(slot.socket).parent
        writable = [site.run_dir] + ([sockets] if sockets != site.run_dir else [])
        read_only = [env.root, interpreter, self._pythonpath, site.workdir]
        return bwrap_argv(
            self._bwrap, argv, site.workdir, site.spec.hidden, read_only, writable, network=True
        )


def exit_reason(code: int, ready: bool) -> str:
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    return how if ready else f"{how} before it was ready"


def _pump(stream: IO[bytes], log: LogSink, prefix: str) -> None:
    """Send each line of `stream` to `log` with `prefix` until end of file."""
    with stream:
        for raw in iter(lambda: stream.readline(MAX_LINE), b""):
            line = raw.removesuffix(b"\n").removesuffix(b"\r").decode("utf-8", errors="replace")
            safe_log(log, prefix + line)


def safe_log(log: LogSink, line: str) -> None:
    # A failing log sink must neither stop the supervisor nor leave a replica's pipe full.
    with contextlib.suppress(Exception):
        log(line)


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def hurry(pid: int) -> None:
    """Ask a supervisor to kill its replica's tree at once (no grace period)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGUSR1)


def release(slot: Slot) -> None:
    """Kill what is left of the slot's replica (escaped from its supervisor) and its group."""
    if slot.proc is not None:
        signal_group(slot.proc.pid, signal.SIGKILL)
    if slot.group is not None:
        slot.group.kill()
        slot.group.remove()
        slot.group = None


def remove(path: str) -> None:
    Path(path).unlink(missing_ok=True)
