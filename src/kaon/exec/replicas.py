"""LocalReplicas: each endpoint's replicas as local processes, kept alive by a supervisor thread.

A replica is `<env python> -m kaon.runtime.replica` (see kaon.runtime.replica) started in its
own session, in the endpoint's environment, with PYTHONPATH pointing at a copy of the stdlib-only
`kaon.runtime` package (the environment does not contain kaon). Its output, stdout and stderr
merged, goes to the endpoint's log line by line, prefixed with `[replica <i>] `.

A replica is ready once its socket exists and a ping is answered from its process group (not
by a stale replica on the same path); only ready replicas are listed in the status. One that
exits is restarted after a delay that doubles from `backoff[0]` to `backoff[1]` and resets once
a replica stayed up `stable_after` seconds.

Each replica runs under the run supervisor (kaon.exec.supervisor) and, where one can be made,
in a control group of its own: it dies with the server, and whatever it started (setsid()
daemons included) is killed when it stops, crashes or is recycled. With `ReplicaSpec.hidden`
and a working bubblewrap it runs in the training jobs' sandbox (kaon.exec.sandbox, network
kept): it sees its code, model, environment and run folder, none of the platform's files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from kaon.core.errors import InvalidInput
from kaon.exec import supervisor
from kaon.exec.cgroups import Cgroup, CgroupRoot, find_cgroups
from kaon.exec.readiness import in_group, ping
from kaon.exec.sandbox import bwrap_argv, bwrap_works
from kaon.ports.envbuilder import LogSink
from kaon.ports.replicas import ReplicaSpec, ReplicaStatus
from kaon.runtime.install import install_runtime

GRACE_SECONDS = 3.0  # between SIGTERM and SIGKILL
POLL_SECONDS = 0.05  # how often the supervisor looks at its replicas
BACKOFF = (0.5, 30.0)  # first and longest delay before restarting a replica that exited
STABLE_AFTER = 60.0  # a replica up this long resets the delay
READY_TIMEOUT = 300.0  # a replica not answering this long after its start is restarted
MAX_SOCKET_PATH = 100  # bytes; the kernel's limit is 107, the replica binds `<path>.tmp` first
MAX_LINE = 1 << 16
NO_HIDING = (
    "bubblewrap is not available: the replicas are not isolated and can read the platform's files"
)


@dataclass
class _Slot:
    """One replica position: the process currently filling it and its restart schedule."""

    index: int
    socket: str
    proc: subprocess.Popen[bytes] | None = None  # the supervisor of the replica
    pump: threading.Thread | None = None
    group: Cgroup | None = None
    started: float = 0.0
    ready: bool = False
    delay: float = 0.0  # before the next restart; 0 until the first exit
    next_start: float = 0.0


@dataclass
class _Endpoint:
    spec: ReplicaSpec
    log: LogSink
    run_dir: Path
    scratch: Path | None  # a folder we created for the sockets, removed on stop
    slots: list[_Slot]
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    restarts: int = 0
    last_error: str = ""
    thread: threading.Thread | None = None


class LocalReplicas:
    """Replicas over local processes; every method is thread-safe."""

    def __init__(
        self,
        root: Path,
        backoff: tuple[float, float] = BACKOFF,
        stable_after: float = STABLE_AFTER,
        grace: float = GRACE_SECONDS,
        ready_timeout: float = READY_TIMEOUT,
        cgroups: CgroupRoot | bool | None = True,
        bwrap: str | None = None,
    ) -> None:
        self._bwrap = bwrap if bwrap is not None else shutil.which("bwrap")
        self._pythonpath = install_runtime(root / "runtime")
        self._cgroups = find_cgroups() if cgroups is True else cgroups or None
        self._ready_timeout = ready_timeout
        self._backoff = backoff
        self._stable_after = stable_after
        self._grace = grace
        self._endpoints: dict[str, _Endpoint] = {}
        self._lock = threading.Lock()  # guards _endpoints
        self._control = threading.Lock()  # one start/stop at a time

    @property
    def can_sandbox(self) -> bool:
        return self._bwrap is not None and bwrap_works(self._bwrap)

    def start(self, spec: ReplicaSpec, log: LogSink) -> None:
        """Start the replicas of `spec.name` (stopping those of an earlier spec first)."""
        if spec.replicas < 1:
            raise InvalidInput(
                f"endpoint {spec.name} needs at least 1 replica, not {spec.replicas}"
            )
        if spec.hidden and not self.can_sandbox:
            _safe_log(log, NO_HIDING)
        with self._control:
            with self._lock:
                old = self._endpoints.pop(spec.name, None)
            if old is not None:
                _halt([old])
            endpoint = self._endpoint(spec, log)
            endpoint.thread = threading.Thread(
                target=self._supervise, args=(endpoint,), name=f"replicas-{spec.name}", daemon=True
            )
            with self._lock:
                self._endpoints[spec.name] = endpoint
            endpoint.thread.start()

    def stop(self, name: str) -> None:
        with self._control:
            with self._lock:
                endpoint = self._endpoints.pop(name, None)
            if endpoint is not None:
                _halt([endpoint])

    def stop_all(self) -> None:
        with self._control:
            with self._lock:
                endpoints = list(self._endpoints.values())
                self._endpoints.clear()
            _halt(endpoints)

    def recycle(self, name: str, address: str) -> bool:
        with self._lock:
            endpoint = self._endpoints.get(name)
        if endpoint is None:
            return False
        with endpoint.lock:
            slot = next((s for s in endpoint.slots if s.socket == address), None)
            if slot is None or slot.proc is None:
                return False
            slot.ready = False  # out of the rotation at once; the supervisor restarts it
            pid = slot.proc.pid
        _safe_log(
            endpoint.log,
            f"[replica {slot.index}] did not answer within the request timeout: restarting it",
        )
        _hurry(pid)
        return True

    def status(self, name: str) -> ReplicaStatus | None:
        with self._lock:
            endpoint = self._endpoints.get(name)
        if endpoint is None:
            return None
        with endpoint.lock:
            ready = tuple(slot.socket for slot in endpoint.slots if slot.ready)
            return ReplicaStatus(
                ready=len(ready),
                wanted=endpoint.spec.replicas,
                restarts=endpoint.restarts,
                last_error=endpoint.last_error,
                addresses=ready,
            )

    # -- one endpoint ----------------------------------------------------------------------

    def _endpoint(self, spec: ReplicaSpec, log: LogSink) -> _Endpoint:
        """The endpoint's folders: sockets in `spec.run_dir` when their paths are short
        enough, else in a new folder under /tmp."""
        given = spec.run_dir.absolute() if spec.run_dir != Path() else None
        scratch = None
        longest = f"r{spec.replicas - 1}.sock"
        if given is not None and len(os.fsencode(given / longest)) <= MAX_SOCKET_PATH:
            sockets = given
        else:
            scratch = sockets = Path(tempfile.mkdtemp(prefix="kaon-", dir=_short_tmp()))
        run_dir = given or sockets
        for sub in ("home", "tmp"):
            (run_dir / sub).mkdir(parents=True, exist_ok=True)
        slots = [_Slot(i, str(sockets / f"r{i}.sock")) for i in range(spec.replicas)]
        return _Endpoint(spec, log, run_dir, scratch, slots)

    def _supervise(self, endpoint: _Endpoint) -> None:
        try:
            while not endpoint.stop.is_set():
                for slot in endpoint.slots:
                    self._tend(endpoint, slot)
                endpoint.stop.wait(POLL_SECONDS)
        finally:
            self._shutdown(endpoint)

    def _tend(self, endpoint: _Endpoint, slot: _Slot) -> None:
        """Start, check or restart the replica in `slot`."""
        now = time.monotonic()
        if slot.proc is None:
            if now >= slot.next_start:
                self._spawn(endpoint, slot)
            return
        code = slot.proc.poll()
        if code is None:
            if not slot.ready and Path(slot.socket).exists():
                answer = ping(slot.socket)
                if answer is not None and in_group(answer.get("pid"), slot.proc.pid):
                    with endpoint.lock:
                        slot.ready = True
            if slot.ready or now - slot.started < self._ready_timeout:
                return
            # load_ctx (or an import) hangs: kill it, it is restarted like a crashed one
            _safe_log(
                endpoint.log,
                f"[replica {slot.index}] not ready after {self._ready_timeout:g} s: killing it",
            )
            _hurry(slot.proc.pid)
            code = slot.proc.wait()
        _release(slot)  # anything that escaped the supervisor
        if slot.pump is not None:
            slot.pump.join(1.0)  # its last lines (a traceback) reach the log before our note
        why = _exit_reason(code, slot.ready)
        if now - slot.started >= self._stable_after or slot.delay == 0:
            slot.delay = self._backoff[0]
        else:
            slot.delay = min(slot.delay * 2, self._backoff[1])
        self._failed(endpoint, slot, why)

    def _failed(self, endpoint: _Endpoint, slot: _Slot, why: str) -> None:
        """Count the failure and schedule the restart (`why`: "exited with code 3 ...")."""
        with endpoint.lock:
            slot.ready = False
            slot.proc = slot.pump = None
            endpoint.restarts += 1
            endpoint.last_error = f"replica {slot.index} {why}"
        slot.next_start = time.monotonic() + slot.delay
        _remove(slot.socket)
        _safe_log(endpoint.log, f"[replica {slot.index}] {why}; restarting in {slot.delay:g} s")

    def _spawn(self, endpoint: _Endpoint, slot: _Slot) -> None:
        spec = endpoint.spec
        argv = [str(spec.env.python), "-m", "kaon.runtime.replica", "--socket", slot.socket]
        argv += ["--code", str(spec.code_dir), "--module", spec.module]
        argv += ["--model-dir", str(spec.model_dir)]  # its parent: the supervisor
        env = {
            "PATH": f"{spec.env.bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "VIRTUAL_ENV": str(spec.env.root),
            "HOME": str(endpoint.run_dir / "home"),
            "TMPDIR": str(endpoint.run_dir / "tmp"),  # /tmp is private and read-only
            "KAON_ENDPOINT": spec.name,
            "KAON_REPLICA": str(slot.index),
            "PYTHONPATH": str(self._pythonpath),
            "PYTHONUNBUFFERED": "1",
            "PYTHONHASHSEED": "0",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
        } | spec.extra_env
        if spec.hidden and self.can_sandbox:
            argv = self._sandboxed(endpoint, slot, argv)
        _remove(slot.socket)
        slot.started = time.monotonic()
        if self._cgroups is not None:
            with contextlib.suppress(OSError):  # none: the supervisor's tree sweep only
                slot.group = self._cgroups.create(None)
        line = supervisor.command(
            argv, env, self._grace, cgroup=str(slot.group.path) if slot.group else ""
        )
        try:
            proc = subprocess.Popen(
                line,
                cwd=spec.code_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            _release(slot)
            slot.delay = min(max(slot.delay * 2, self._backoff[0]), self._backoff[1])
            self._failed(endpoint, slot, f"could not start: {exc}")
            return
        assert proc.stdout is not None
        prefix = f"[replica {slot.index}] "
        pump = threading.Thread(
            target=_pump,
            args=(proc.stdout, endpoint.log, prefix),
            daemon=True,
            name=f"log-{proc.pid}",
        )
        pump.start()
        slot.proc, slot.pump = proc, pump

    def _sandboxed(self, endpoint: _Endpoint, slot: _Slot, argv: list[str]) -> list[str]:
        """`argv` in bubblewrap: the replica sees its code, model, environment (and the
        interpreter it links to), the runtime; it writes in its run folder and sockets only."""
        assert self._bwrap is not None
        spec = endpoint.spec
        interpreter = Path(os.path.realpath(spec.env.python)).parents[1]
        sockets = Path(slot.socket).parent
        writable = [endpoint.run_dir] + ([sockets] if sockets != endpoint.run_dir else [])
        read_only = [spec.env.root, interpreter, self._pythonpath, spec.code_dir, spec.model_dir]
        return bwrap_argv(
            self._bwrap, argv, spec.code_dir, spec.hidden, read_only, writable, network=True
        )

    def _shutdown(self, endpoint: _Endpoint) -> None:
        """SIGTERM every replica, SIGKILL those still there after the grace period."""
        running = [slot for slot in endpoint.slots if slot.proc is not None]
        with endpoint.lock:
            for slot in endpoint.slots:
                slot.ready = False
        for slot in running:  # the supervisors give their trees the grace period
            assert slot.proc is not None
            with contextlib.suppress(ProcessLookupError):
                slot.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self._grace + 2
        for slot in running:
            assert slot.proc is not None
            with contextlib.suppress(subprocess.TimeoutExpired):
                slot.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            if slot.proc.poll() is None:
                _hurry(slot.proc.pid)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    slot.proc.wait(timeout=2.0)
            _signal_group(slot.proc.pid, signal.SIGKILL)  # a supervisor that did not end
            slot.proc.wait()
            _release(slot)
        for slot in running:
            if slot.pump is not None:
                slot.pump.join(1.0)
        for slot in endpoint.slots:
            _remove(slot.socket)
            _remove(f"{slot.socket}.tmp")
        shutil.rmtree(endpoint.run_dir / "tmp", ignore_errors=True)  # the replicas' TMPDIR
        if endpoint.scratch is not None:
            shutil.rmtree(endpoint.scratch, ignore_errors=True)


def _halt(endpoints: list[_Endpoint]) -> None:
    """Stop the supervisors of `endpoints` together and wait for them."""
    for endpoint in endpoints:
        endpoint.stop.set()
    for endpoint in endpoints:
        if endpoint.thread is not None:
            endpoint.thread.join()


def _exit_reason(code: int, ready: bool) -> str:
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    return how if ready else f"{how} before it was ready"


def _pump(stream: IO[bytes], log: LogSink, prefix: str) -> None:
    """Send each line of `stream` to `log` with `prefix` until end of file."""
    with stream:
        for raw in iter(lambda: stream.readline(MAX_LINE), b""):
            line = raw.removesuffix(b"\n").removesuffix(b"\r").decode("utf-8", errors="replace")
            _safe_log(log, prefix + line)


def _safe_log(log: LogSink, line: str) -> None:
    # A failing log sink must neither stop the supervisor nor leave a replica's pipe full.
    with contextlib.suppress(Exception):
        log(line)


def _short_tmp() -> str | None:
    """/tmp when the system temp dir is too long for socket paths."""
    default = tempfile.gettempdir()
    return None if len(default) <= 40 or not Path("/tmp").is_dir() else "/tmp"


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _hurry(pid: int) -> None:
    """Ask a supervisor to kill its replica's tree at once (no grace period)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGUSR1)


def _release(slot: _Slot) -> None:
    """Kill what is left of the slot's replica (escaped from its supervisor) and its group."""
    if slot.proc is not None:
        _signal_group(slot.proc.pid, signal.SIGKILL)
    if slot.group is not None:
        slot.group.kill()
        slot.group.remove()
        slot.group = None


def _remove(path: str) -> None:
    Path(path).unlink(missing_ok=True)
