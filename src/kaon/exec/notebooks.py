"""LocalNotebooks: each notebook's JupyterLab as a local process, kept alive by a thread.

JupyterLab runs from the notebook's environment under the run supervisor (it dies with the
server, its whole tree with it), in a control group of its own where one can be made, and in
the jobs' sandbox (kaon.exec.sandbox, network kept)
when the platform's folders are to be hidden and bubblewrap works: then it sees its
environment, its working folder and run folder (writable) and the data bundle read-only at
/pfs/<data repo>. It listens on a unix socket only (`<run>/lab.sock`, or a short folder under
/tmp when that path is too long), base URL `/<name>/`, Jupyter's token auth on (the token in
its environment, not on its command line). It is ready once `GET /<name>/api` answers 200 on
that socket; one that exits is restarted after a delay that doubles from BACKOFF[0] to
BACKOFF[1] (reset once it stayed up STABLE_AFTER seconds).

Limits, as a training job's (`describe_limits` says which apply here, at deploy): `memory`
bounds its processes together where a control group with the memory controller can be made,
else each process (RLIMIT_AS); `cpu` pins them (the supervisor's CPU affinity, inherited by
every kernel) to that many of the CPUs this server may use, rounded up to whole CPUs.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from kaon.core.notebooks import DATA_ROOT
from kaon.core.units import memory_text
from kaon.exec import supervisor
from kaon.exec.cgroups import Cgroup, CgroupRoot, find_cgroups
from kaon.exec.replicaproc import MAX_LINE, safe_log, signal_group
from kaon.exec.sandbox import Mount, bwrap_argv, bwrap_works
from kaon.ports.envbuilder import LogSink
from kaon.ports.notebooks import NotebookSpec, NotebookStatus

GRACE_SECONDS = 3.0
POLL_SECONDS = 0.2
BACKOFF = (0.5, 30.0)
STABLE_AFTER = 60.0
MAX_SOCKET_PATH = 100


@dataclass
class _Lab:
    spec: NotebookSpec
    log: LogSink
    socket: str
    scratch: Path | None
    sandboxed: bool
    memory: int | None
    proc: subprocess.Popen[bytes] | None = None
    group: Cgroup | None = None
    ready: bool = False
    restarts: int = 0
    last_error: str = ""
    started: float = 0.0
    delay: float = 0.0
    next_start: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class LocalNotebooks:
    """NotebookRunner over local processes; thread-safe."""

    def __init__(
        self,
        runtime: Path | None = None,
        cgroups: CgroupRoot | bool | None = True,
        bwrap: str | None = None,
        backoff: tuple[float, float] = BACKOFF,
        grace: float = GRACE_SECONDS,
    ) -> None:
        self._cgroups = find_cgroups() if cgroups is True else cgroups or None
        self._bwrap = bwrap if bwrap is not None else shutil.which("bwrap")
        self._backoff = backoff
        self._grace = grace
        self._runtime = runtime  # the SDK (kaon.runtime.install), on the kernels' PYTHONPATH
        self._labs: dict[str, _Lab] = {}
        self._lock = threading.Lock()

    def start(self, spec: NotebookSpec, log: LogSink) -> None:
        self.stop(spec.name)
        sandboxed = bool(spec.hidden) and self._bwrap is not None and bwrap_works(self._bwrap)
        if spec.hidden and not sandboxed:
            safe_log(log, "bubblewrap is not available: the notebook can read the platform's files")
        for sub in ("home", "tmp"):
            (spec.run_dir / sub).mkdir(parents=True, exist_ok=True)
        path = spec.run_dir.absolute() / "lab.sock"
        scratch = None
        if len(os.fsencode(path)) > MAX_SOCKET_PATH:
            scratch = Path(tempfile.mkdtemp(prefix="kaon-nb-", dir="/tmp"))
            path = scratch / "lab.sock"
        lab = _Lab(spec, log, str(path), scratch, sandboxed, spec.memory)
        lab.thread = threading.Thread(
            target=self._supervise, args=(lab,), name=f"notebook-{spec.name}", daemon=True
        )
        with self._lock:
            self._labs[spec.name] = lab
        lab.thread.start()

    def stop(self, name: str) -> None:
        with self._lock:
            lab = self._labs.pop(name, None)
        if lab is not None:
            lab.stop.set()
            if lab.thread is not None:
                lab.thread.join()

    def stop_all(self) -> None:
        with self._lock:
            labs = list(self._labs.values())
            self._labs.clear()
        for lab in labs:
            lab.stop.set()
        for lab in labs:
            if lab.thread is not None:
                lab.thread.join()

    def status(self, name: str) -> NotebookStatus | None:
        with self._lock:
            lab = self._labs.get(name)
        if lab is None:
            return None
        return NotebookStatus(lab.ready, lab.restarts, lab.last_error, lab.socket)

    def describe_limits(self, cpu: float | None, memory: int | None) -> str:
        parts = []
        if cpu is not None:
            cpus, allowed = len(cpu_set(cpu, "")), len(os.sched_getaffinity(0))
            text = f"cpu: {cpus} of the {allowed} CPUs of this server (its processes pinned)"
            if cpus != cpu:
                why = "only whole CPUs" if cpu < allowed else "no more here"
                text += f"; --cpu {cpu:g} is {cpus} ({why})"
            parts.append(text)
        if memory is not None:
            if self._cgroups is not None and self._cgroups.limits_memory:
                parts.append(f"memory: {memory_text(memory)} for its processes together (cgroup)")
            else:
                parts.append(
                    f"memory: {memory_text(memory)} for each of its processes (RLIMIT_AS): no "
                    "writable cgroup with the memory controller here, so together they may "
                    "use more"
                )
        return "; ".join(parts)

    # -- one notebook ----------------------------------------------------------------------

    def _supervise(self, lab: _Lab) -> None:
        try:
            while not lab.stop.is_set():
                self._tend(lab)
                lab.stop.wait(POLL_SECONDS)
        finally:
            self._halt(lab)

    def _tend(self, lab: _Lab) -> None:
        now = time.monotonic()
        if lab.proc is None:
            if now >= lab.next_start:
                self._spawn(lab)
            return
        code = lab.proc.poll()
        if code is None:
            if not lab.ready and answers(lab.socket, lab.spec.name):
                lab.ready = True
                safe_log(lab.log, f"JupyterLab answers at /{lab.spec.name}/lab")
            return
        self._release(lab)
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        if now - lab.started >= STABLE_AFTER or lab.delay == 0:
            lab.delay = self._backoff[0]
        else:
            lab.delay = min(lab.delay * 2, self._backoff[1])
        lab.ready = False
        lab.proc = None
        lab.restarts += 1
        lab.last_error = f"JupyterLab {how}"
        lab.next_start = now + lab.delay
        safe_log(lab.log, f"JupyterLab {how}; restarting in {lab.delay:g} s")

    def _spawn(self, lab: _Lab) -> None:
        spec = lab.spec
        argv = [str(spec.env.python), "-m", "jupyterlab", "--no-browser"]
        if os.geteuid() == 0:
            argv.append("--allow-root")
        argv += [
            f"--ServerApp.sock={lab.socket}",
            "--ServerApp.sock_mode=0600",
            f"--ServerApp.base_url=/{spec.name}/",
            f"--ServerApp.root_dir={spec.workdir}",
            "--ServerApp.allow_remote_access=True",  # only the gateway reaches the socket
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        data = spec.data
        data_dir = ""
        if data is not None:
            data_dir = f"{DATA_ROOT}/{spec.data_repo}" if lab.sandboxed else str(data)
        env = {
            "PATH": f"{spec.env.bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "VIRTUAL_ENV": str(spec.env.root),
            "HOME": str(spec.run_dir / "home"),
            "TMPDIR": str(spec.run_dir / "tmp"),
            "JUPYTER_TOKEN": spec.token,
            "PYTHONUNBUFFERED": "1",
            "KAON_NOTEBOOK": spec.name,
            "KAON_DATA_DIR": data_dir,
            "DATA_REPO": spec.data_repo,
        } | spec.variables
        if self._runtime is not None:  # `Client.from_env()` in a cell, no kaon install needed
            env["PYTHONPATH"] = str(self._runtime)
        if lab.sandboxed:
            assert self._bwrap is not None
            interpreter = Path(os.path.realpath(spec.env.python)).parents[1]
            sockets = Path(lab.socket).parent
            writable = [spec.run_dir, spec.workdir] + ([sockets] if sockets != spec.run_dir else [])
            mounts = [Mount(data_dir, data)] if data is not None else []
            argv = bwrap_argv(
                self._bwrap,
                argv,
                spec.workdir,
                spec.hidden,
                [spec.env.root, interpreter, *([self._runtime] if self._runtime else [])],
                writable,
                network=True,
                mounts=mounts,
            )
        Path(lab.socket).unlink(missing_ok=True)
        if self._cgroups is not None:
            try:
                lab.group = self._cgroups.create(lab.memory)
            except OSError as exc:
                safe_log(lab.log, f"no control group ({exc}): limits apply per process")
        bounded = lab.group is not None and lab.group.limits_memory
        line = supervisor.command(
            argv,
            env,
            self._grace,
            cgroup=str(lab.group.path) if lab.group else "",
            rlimit_as=0 if bounded else lab.memory or 0,
            cpus=cpu_set(spec.cpu, spec.name) if spec.cpu is not None else (),
        )
        lab.started = time.monotonic()
        try:
            proc = subprocess.Popen(
                line,
                cwd=spec.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            self._release(lab)
            lab.delay = min(max(lab.delay * 2, self._backoff[0]), self._backoff[1])
            lab.next_start = time.monotonic() + lab.delay
            lab.last_error = f"JupyterLab could not start: {exc}"
            safe_log(lab.log, lab.last_error)
            return
        lab.proc = proc
        assert proc.stdout is not None
        stream = proc.stdout
        threading.Thread(
            target=_pump, args=(stream, lab.log), daemon=True, name=f"log-{proc.pid}"
        ).start()

    def _release(self, lab: _Lab) -> None:
        if lab.proc is not None:
            signal_group(lab.proc.pid, signal.SIGKILL)
        if lab.group is not None:
            lab.group.kill()
            lab.group.remove()
            lab.group = None

    def _halt(self, lab: _Lab) -> None:
        lab.ready = False
        proc = lab.proc
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)  # the supervisor gives its tree the grace
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=self._grace + 2)
            self._release(lab)
            proc.wait()
        Path(lab.socket).unlink(missing_ok=True)
        if lab.scratch is not None:
            shutil.rmtree(lab.scratch, ignore_errors=True)


def cpu_set(cpu: float, name: str) -> tuple[int, ...]:
    """`cpu` rounded up to whole CPUs (at most all of them) of those this process may use, a
    run of them starting where `name` says (notebooks spread over the CPUs)."""
    allowed = sorted(os.sched_getaffinity(0))
    count = min(len(allowed), max(1, math.ceil(cpu)))
    start = zlib.crc32(name.encode()) % len(allowed)
    return tuple(sorted(allowed[(start + i) % len(allowed)] for i in range(count)))


def answers(path: str, name: str, timeout: float = 2.0) -> bool:
    """Whether a Jupyter server answers `GET /<name>/api` with 200 on the unix socket `path`."""
    if not Path(path).exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(path)
            s.sendall(f"GET /{name}/api HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
            head = s.recv(64)
    except OSError:
        return False
    return head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200")


def _pump(stream: object, log: LogSink) -> None:
    with stream:  # type: ignore[attr-defined]
        for raw in iter(lambda: stream.readline(MAX_LINE), b""):  # type: ignore[attr-defined]
            safe_log(log, raw.rstrip(b"\r\n").decode("utf-8", errors="replace"))
